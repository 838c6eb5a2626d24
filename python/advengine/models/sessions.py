"""ONNX Runtime sessions shared within a process, one per (model file, providers with their device
options, threads).

A warm worker builds many roster entries on the same models (fgsm and ifgsm on one source, several
defenses on one classifier); each would load its own copy of the weights. Sessions are safe to share
(``run`` keeps no state between calls), so entries get the one already made for the same file on the
same device. The file's size and modification time are part of the key, so a rebuilt file gets a new
session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

S = TypeVar("S")

_SESSIONS: dict[tuple[str, int, int, str, int | None], Any] = {}
#: Sessions made in this process (shared or not): what tests count to check that a run opens one
#: session per graph shape, which a timing could not show.
_BUILT = 0


def counted(make: Callable[[], S]) -> S:
    """``make()``, counted in :func:`sessions_built`; every session factory of the package calls it."""
    global _BUILT
    session = make()
    _BUILT += 1
    return session


def sessions_built() -> int:
    """How many sessions this process has made so far."""
    return _BUILT


def shared_session(path: Path, providers: Sequence[Any], threads: int | None, make: Callable[[], S]) -> S:
    """The session of ``path`` on ``providers`` (their device options included) with ``threads``,
    made by ``make`` the first time."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, repr(list(providers)), threads)
    session = _SESSIONS.get(key)
    if session is None:
        session = _SESSIONS[key] = counted(make)
    return session


def clear_sessions() -> None:
    """Drop every shared session (their memory is freed once no classifier or attack holds them)."""
    _SESSIONS.clear()


__all__ = ["clear_sessions", "counted", "sessions_built", "shared_session"]
