"""Where the model zoo keeps files: built ONNX in the cache dir, registered manifests in the config dir.

The roots come from :mod:`advengine.env` (``ADVENGINE_CACHE``, ``ADVENGINE_CONFIG``,
``ADVENGINE_MODEL_PATH``, else the XDG directories).
"""

from __future__ import annotations

from pathlib import Path

from advengine.env import cache_dir, config_dir, model_path_dirs


def builtin_manifest_dir() -> Path:
    """The manifests shipped inside the package (identical copies of ``models/onnx/*.json``)."""
    return Path(__file__).resolve().parent / "manifests"


def user_manifest_dir() -> Path:
    """Where ``advengine models register`` copies manifests."""
    return config_dir() / "models"


__all__ = ["builtin_manifest_dir", "cache_dir", "config_dir", "model_path_dirs", "user_manifest_dir"]
