"""The project's one atomic file write.

Every file another process may read while it is being written goes through :func:`atomic_write`: a
built model and its manifest, a compiled graph, a piece record, results.json, a defense's CSV, a
submission's logs. Readers (a resumed run, a second worker, a user) see the old file or the new one,
never a torn one, and two writers of the same content both win.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _fsync_dir(directory: Path) -> None:
    # The rename lives in the directory entry: without this a power cut can bring the old file back.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8, newlines untouched) to ``path``: a temporary file beside it,
    fsync, rename over ``path``, fsync of the directory. Creates missing parent directories."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


__all__ = ["atomic_write"]
