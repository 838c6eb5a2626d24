"""Content-addressed uploads: the same bytes are one blob; a body over the limit is refused and
leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from advengine.server.storage import Blobs, TooLargeError


def test_blobs_are_named_by_their_content(tmp_path: Path) -> None:
    blobs = Blobs(tmp_path)
    digest, path = blobs.put(io.BytesIO(b"abc"), ".zip", 10)
    assert digest == hashlib.sha256(b"abc").hexdigest()
    assert path == tmp_path / "blobs" / digest[:2] / f"{digest}.zip"
    assert blobs.put(io.BytesIO(b"abc"), ".zip", 10) == (digest, path)
    assert path.read_bytes() == b"abc"


def test_a_blob_over_the_limit_is_refused_and_cleaned_up(tmp_path: Path) -> None:
    blobs = Blobs(tmp_path)
    with pytest.raises(TooLargeError, match="size limit of 10 bytes"):
        blobs.put(io.BytesIO(b"x" * 11), ".zip", 10)
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []
