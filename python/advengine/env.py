"""The one module that reads environment variables.

Everything else asks this module, so every knob is listed here with its meaning, and nothing in the
package writes ``os.environ`` (the run's settings travel in :class:`advengine.context.RunContext`).

=========================  =======================================================================
``ADVENGINE_DEBUG``        ``1``: tracebacks instead of one-line errors (CLI and worker processes)
``ADVENGINE_NUM_THREADS``  threads of the Rust kernels and of ONNX Runtime sessions (0: default)
``ADVENGINE_CACHE``        cache root of built models and compiled graphs (else XDG, ``~/.cache``)
``ADVENGINE_CONFIG``       config root of registered model manifests (else XDG, ``~/.config``)
``ADVENGINE_MODEL_PATH``   extra directories (``os.pathsep``-separated) searched for manifests
``ADVENGINE_PLUGINS``      comma-separated modules imported before a roster is resolved
``ADVENGINE_PROVIDERS``    comma-separated ONNX Runtime providers of ``attack``/``defend`` (else
                           CUDA when available, then CPU); ``eval`` takes them from its config
``ADVENGINE_ORT_CACHE``    ``1``: keep ONNX Runtime's optimised graphs on disk (models/optimized.py);
                           off by default: no gain measured, a second copy of every graph
``CUDA_VISIBLE_DEVICES``   read (never set) on Ray nodes: the GPUs Ray gave a task
=========================  =======================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

from advengine.errors import ParameterError

DEBUG = "ADVENGINE_DEBUG"
NUM_THREADS = "ADVENGINE_NUM_THREADS"
CACHE = "ADVENGINE_CACHE"
CONFIG = "ADVENGINE_CONFIG"
MODEL_PATH = "ADVENGINE_MODEL_PATH"
PLUGINS = "ADVENGINE_PLUGINS"
PROVIDERS = "ADVENGINE_PROVIDERS"
ORT_CACHE = "ADVENGINE_ORT_CACHE"


def _get(name: str) -> str:
    return os.environ.get(name, "").strip()


def _list(name: str, sep: str = ",") -> tuple[str, ...]:
    return tuple(p.strip() for p in _get(name).split(sep) if p.strip())


def debug_enabled() -> bool:
    return _get(DEBUG) not in ("", "0", "false", "no")


def ort_cache_enabled() -> bool:
    """``ADVENGINE_ORT_CACHE``: whether sessions load and keep ORT's optimised graphs on disk."""
    return _get(ORT_CACHE) not in ("", "0", "false", "no")


def num_threads() -> int:
    """``ADVENGINE_NUM_THREADS`` (the project's one thread knob), 0 when unset (= the default)."""
    raw = _get(NUM_THREADS)
    if not raw:
        return 0
    if not raw.isdigit():
        raise ParameterError(f"{NUM_THREADS}={raw!r} is not a non-negative integer")
    return int(raw)


def _user_dir(own: str, xdg: str, fallback: str) -> Path:
    if _get(own):
        return Path(_get(own)).expanduser()
    base = _get(xdg) or str(Path.home() / fallback)
    return Path(base).expanduser() / "advengine"


def cache_dir() -> Path:
    """``$ADVENGINE_CACHE``, else ``$XDG_CACHE_HOME/advengine``, else ``~/.cache/advengine``."""
    return _user_dir(CACHE, "XDG_CACHE_HOME", ".cache")


def config_dir() -> Path:
    """``$ADVENGINE_CONFIG``, else ``$XDG_CONFIG_HOME/advengine``, else ``~/.config/advengine``."""
    return _user_dir(CONFIG, "XDG_CONFIG_HOME", ".config")


def model_path_dirs() -> list[Path]:
    return [Path(p).expanduser() for p in _list(MODEL_PATH, os.pathsep)]


def plugins() -> tuple[str, ...]:
    return _list(PLUGINS)


def providers() -> tuple[str, ...] | None:
    """``ADVENGINE_PROVIDERS`` as a tuple, or None when unset (= CUDA when available, then CPU)."""
    return _list(PROVIDERS) or None


def cuda_visible_devices() -> tuple[str, ...]:
    """``CUDA_VISIBLE_DEVICES`` as a tuple (Ray narrows it to the GPUs it assigned a task)."""
    return _list("CUDA_VISIBLE_DEVICES")


def search_path() -> str:
    """The ``PATH`` a sandboxed submission runs with (the host's, else the usual system dirs)."""
    return os.environ.get("PATH", "/usr/bin:/bin")


__all__ = [
    "CACHE",
    "CONFIG",
    "DEBUG",
    "MODEL_PATH",
    "NUM_THREADS",
    "PLUGINS",
    "PROVIDERS",
    "cache_dir",
    "config_dir",
    "cuda_visible_devices",
    "debug_enabled",
    "model_path_dirs",
    "num_threads",
    "plugins",
    "providers",
    "search_path",
]
