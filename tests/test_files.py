"""advengine.files.atomic_write: whole files or nothing, fsynced file and directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from advengine import files
from advengine.files import atomic_write


def test_writes_bytes_and_text_byte_for_byte(tmp_path: Path) -> None:
    atomic_write(tmp_path / "new" / "a.bin", b"\x00\xff")
    atomic_write(tmp_path / "b.txt", "é\r\nx\n")  # newlines untouched, UTF-8
    assert (tmp_path / "new" / "a.bin").read_bytes() == b"\x00\xff"
    assert (tmp_path / "b.txt").read_bytes() == "é\r\nx\n".encode()
    atomic_write(tmp_path / "b.txt", "second")
    assert (tmp_path / "b.txt").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.txt", "new"]


def test_fsyncs_the_file_and_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file")
        real(fd)

    monkeypatch.setattr(files.os, "fsync", spy)
    atomic_write(tmp_path / "x", b"1")
    assert synced == ["file", "dir"]


def test_a_failed_rename_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "keep.json"
    target.write_text("old")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]
