"""Processes that end with their parent: the engine's workers, and every hop of a sandboxed run.

A leaf module (no advengine imports), so the competition engine and the submissions runner can both
use it without importing each other.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

_PR_SET_PDEATHSIG = 1
# Looked up once, here: die_with_parent runs between fork and exec, where dlopen (which may wait for
# a lock another thread held at the fork) must not be called.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """PR_SET_PDEATHSIG for the calling process; exits at once if the parent is already gone.

    Use as ``preexec_fn``, or first thing in a child process. The signal comes when the *thread* that
    started this process ends, so the caller must start it from a thread that outlives it."""
    parent = os.getppid()
    if _prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent or parent == 1:
        os._exit(1)  # the parent died before the signal was armed: nobody will send it


def exit_with_parent(poll: float = 0.5) -> None:
    """Kill this process (SIGKILL) as soon as its parent is gone, from a daemon thread.

    For processes started from a thread that may end before them (the engine's worker threads), where
    PR_SET_PDEATHSIG cannot be used. What this process started itself dies with it through its own
    PR_SET_PDEATHSIG."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


__all__ = ["die_with_parent", "exit_with_parent"]
