"""Content-addressed storage of uploads under ``STATE/blobs``: a blob is named by the sha256 of its
bytes, so the same archive uploaded twice is stored once and its evaluation is cached by content.

Uploads are copied to a temp file in the same directory and renamed into place when complete. The
HTTP body itself is cut at the size limit before it reaches here (:mod:`advengine.server.limits`)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from advengine.errors import AdvEngineError


class TooLargeError(AdvEngineError):
    """An upload passed the configured size limit."""


class Blobs:
    def __init__(self, root: Path) -> None:
        self.root = root / "blobs"
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str, suffix: str) -> Path:
        return self.root / digest[:2] / f"{digest}{suffix}"

    def put(self, source: BinaryIO, suffix: str, limit: int) -> tuple[str, Path]:
        """Store the bytes read from ``source``; returns (sha256, path). Raises :class:`TooLargeError`
        as soon as more than ``limit`` bytes were read."""
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise TooLargeError(f"the upload is over the size limit of {limit} bytes")
                    h.update(chunk)
                    out.write(chunk)
            digest = h.hexdigest()
            dest = self.path(digest, suffix)
            dest.parent.mkdir(exist_ok=True)
            os.replace(tmp, dest)
            return digest, dest
        finally:
            Path(tmp).unlink(missing_ok=True)


__all__ = ["Blobs", "TooLargeError"]
