"""A submission's stdout and stderr, streamed through a pipe and capped (head and tail kept).

A run may print without bound (150 MB per batch was seen); the log keeps the first and the last
``cap / 2`` bytes with one marker line between them saying how much was left out. The head goes
straight to the file, the tail is held in a bounded buffer, so neither the disk nor the worker's
memory grows with the output.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO

#: Bytes kept per stream per batch.
LOG_CAP = 1 << 20
_CHUNK = 1 << 16


def marker(dropped: int) -> bytes:
    return f"\n[advengine: {dropped} bytes left out here; the log keeps the first and last bytes]\n".encode()


class CappedLog:
    """Drains one pipe into ``path`` in a thread: the first ``cap // 2`` bytes, a marker, the last."""

    def __init__(self, pipe: IO[bytes], path: Path, cap: int = LOG_CAP) -> None:
        self.path, self.half = path, cap // 2
        self.dropped = 0
        self._tail = bytearray()
        self._pipe = pipe
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        written = 0
        fd = self._pipe.fileno()
        with open(self.path, "wb") as out:
            while chunk := os.read(fd, _CHUNK):
                if written < self.half:
                    head = chunk[: self.half - written]
                    out.write(head)
                    written += len(head)
                    chunk = chunk[len(head) :]
                if chunk:
                    self._tail += chunk
                    if len(self._tail) > self.half:
                        self.dropped += len(self._tail) - self.half
                        del self._tail[: len(self._tail) - self.half]
            if self.dropped:
                out.write(marker(self.dropped))
            out.write(self._tail)
        self._pipe.close()

    def finish(self, timeout: float = 10.0) -> None:
        """Wait until the pipe is drained (every writer gone) and the file complete."""
        self._thread.join(timeout)


__all__ = ["LOG_CAP", "CappedLog", "marker"]
