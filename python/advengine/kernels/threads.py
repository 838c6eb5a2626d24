"""Thread-count control shared by every kernel."""

from __future__ import annotations

from advengine import _core


def num_threads() -> int:
    """Threads the kernels use: ``ADVENGINE_NUM_THREADS`` if set, else the logical CPU count."""
    return _core.num_threads()


def reset_thread_pool() -> None:
    """Rebuild the pool on next use, e.g. after changing ``ADVENGINE_NUM_THREADS``."""
    _core.reset_thread_pool()
