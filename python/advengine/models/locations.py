"""Where the model zoo keeps files: built ONNX in the cache dir, registered manifests in the config dir."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ADVENGINE_CACHE"
CONFIG_ENV = "ADVENGINE_CONFIG"
#: Extra directories (os.pathsep-separated) searched for ``*.json`` model manifests.
MODEL_PATH_ENV = "ADVENGINE_MODEL_PATH"


def cache_dir() -> Path:
    """``$ADVENGINE_CACHE``, else ``$XDG_CACHE_HOME/advengine``, else ``~/.cache/advengine``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "advengine"


def config_dir() -> Path:
    """``$ADVENGINE_CONFIG``, else ``$XDG_CONFIG_HOME/advengine``, else ``~/.config/advengine``."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "advengine"


def builtin_manifest_dir() -> Path:
    """The manifests shipped inside the package (identical copies of ``models/onnx/*.json``)."""
    return Path(__file__).resolve().parent / "manifests"


def user_manifest_dir() -> Path:
    """Where ``advengine models register`` copies manifests."""
    return config_dir() / "models"


def model_path_dirs() -> list[Path]:
    raw = os.environ.get(MODEL_PATH_ENV, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


__all__ = [
    "CACHE_ENV",
    "CONFIG_ENV",
    "MODEL_PATH_ENV",
    "builtin_manifest_dir",
    "cache_dir",
    "config_dir",
    "model_path_dirs",
    "user_manifest_dir",
]
