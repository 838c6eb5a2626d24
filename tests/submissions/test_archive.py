from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from advengine.errors import SubmissionError
from advengine.submissions.archive import Caps, load_submission, submission_name

META = json.dumps(
    {"type": "attack", "container": "c", "container_gpu": "g", "entry_point": "run.sh"}
).encode()
SCRIPT = b"#!/bin/sh\ncp $1/* $2/\n"


def _zip(path: Path, files: dict[str, tuple[bytes, int]], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | mode) << 16
            zf.writestr(info, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _tar(path: Path, files: dict[str, tuple[bytes, int]], extra: Sequence[tarfile.TarInfo] = ()) -> Path:
    mode = "w:gz" if path.name.endswith(".tar.gz") else "w"
    with tarfile.open(path, mode) as tf:
        for name, (data, m) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), m
            tf.addfile(info, io.BytesIO(data))
        for info in extra:
            tf.addfile(info)
    return path


GOOD = {
    "sub/metadata.json": (META, 0o644),
    "sub/run.sh": (SCRIPT, 0o755),
    "sub/lib/x.py": (b"x = 1\n", 0o644),
}


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tar.gz"])
def test_extracts_keeps_exec_bit_and_applies_single_top_dir(tmp_path: Path, suffix: str) -> None:
    files = {**GOOD, "__MACOSX/sub/._run.sh": (b"junk", 0o644)}
    path = tmp_path / f"my-attack{suffix}"
    (_zip if suffix == ".zip" else _tar)(path, files)
    sub = load_submission(path, tmp_path / "work")
    assert sub.name == "my-attack"
    assert (sub.root / "lib" / "x.py").read_text() == "x = 1\n"
    assert sub.metadata.entry_point == "run.sh"
    assert os.access(sub.entry_point, os.X_OK)
    assert not os.access(sub.root / "metadata.json", os.X_OK)


def test_flat_archive_root_is_the_archive_root(tmp_path: Path) -> None:
    path = _zip(tmp_path / "flat.zip", {"metadata.json": (META, 0o644), "run.sh": (SCRIPT, 0o755)})
    assert (load_submission(path, tmp_path / "w").root / "run.sh").is_file()


def test_directory_submission_is_copied(tmp_path: Path) -> None:
    src = tmp_path / "dir-sub"
    src.mkdir()
    (src / "metadata.json").write_bytes(META)
    (src / "run.sh").write_bytes(SCRIPT)
    sub = load_submission(src, tmp_path / "w")
    assert sub.name == "dir-sub"
    assert sub.root != src
    assert (sub.root / "run.sh").read_bytes() == SCRIPT


@pytest.mark.parametrize("name", ["../evil.sh", "/etc/evil", "sub/../../evil"])
@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_path_traversal_is_refused(tmp_path: Path, name: str, suffix: str) -> None:
    path = tmp_path / f"bad{suffix}"
    (_zip if suffix == ".zip" else _tar)(path, {**GOOD, name: (b"x", 0o644)})
    with pytest.raises(SubmissionError, match="outside the archive"):
        load_submission(path, tmp_path / "w")
    assert not (tmp_path / "evil.sh").exists()


def test_links_are_refused(tmp_path: Path) -> None:
    sym = tarfile.TarInfo("sub/passwd")
    sym.type, sym.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("sub/hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "sub/run.sh"
    with pytest.raises(SubmissionError, match="symbolic link"):
        load_submission(_tar(tmp_path / "a.tar", GOOD, [sym]), tmp_path / "w1")
    with pytest.raises(SubmissionError, match="hard link"):
        load_submission(_tar(tmp_path / "b.tar", GOOD, [hard]), tmp_path / "w2")
    with pytest.raises(SubmissionError, match="symbolic link"):
        load_submission(_zip(tmp_path / "c.zip", GOOD, {"sub/l": "/etc/passwd"}), tmp_path / "w3")
    src = tmp_path / "d"
    src.mkdir()
    (src / "metadata.json").write_bytes(META)
    (src / "run.sh").symlink_to("/bin/sh")
    with pytest.raises(SubmissionError, match="symbolic links are not allowed"):
        load_submission(src, tmp_path / "w4")


def test_device_files_are_refused(tmp_path: Path) -> None:
    fifo = tarfile.TarInfo("sub/fifo")
    fifo.type = tarfile.FIFOTYPE
    with pytest.raises(SubmissionError, match="not a regular file"):
        load_submission(_tar(tmp_path / "a.tar", GOOD, [fifo]), tmp_path / "w")


def test_size_and_count_caps(tmp_path: Path) -> None:
    big = _zip(tmp_path / "big.zip", {**GOOD, "sub/zeros": (b"\0" * 50_000, 0o644)})
    with pytest.raises(SubmissionError, match="unpacks to more than"):
        load_submission(big, tmp_path / "w1", Caps(max_bytes=10_000))
    with pytest.raises(SubmissionError, match="more than 2 files"):
        load_submission(big, tmp_path / "w2", Caps(max_files=2))
    with pytest.raises(SubmissionError, match="archive is larger"):
        load_submission(big, tmp_path / "w3", Caps(max_archive_bytes=100))
    assert load_submission(big, tmp_path / "w4", Caps(max_bytes=60_000)).name == "big"


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"sub/run.sh": (SCRIPT, 0o755)}, "no metadata.json"),
        ({"sub/metadata.json": (META, 0o644)}, "entry point 'run.sh' from metadata.json does not exist"),
        ({"sub/metadata.json": (b"{oops", 0o644), "sub/run.sh": (SCRIPT, 0o755)}, "not valid JSON"),
    ],
)
def test_bad_contents(tmp_path: Path, files: dict[str, tuple[bytes, int]], match: str) -> None:
    with pytest.raises(SubmissionError, match=match):
        load_submission(_zip(tmp_path / "s.zip", files), tmp_path / "w")


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "s.rar").write_bytes(b"x")
    with pytest.raises(SubmissionError, match=r"\.zip, \.tar or \.tar\.gz"):
        load_submission(tmp_path / "s.rar", tmp_path / "w1")
    (tmp_path / "s.zip").write_bytes(b"not a zip")
    with pytest.raises(SubmissionError, match="cannot read the archive"):
        load_submission(tmp_path / "s.zip", tmp_path / "w2")
    with pytest.raises(SubmissionError, match="no such submission"):
        load_submission(tmp_path / "missing", tmp_path / "w3")


def test_submission_name(tmp_path: Path) -> None:
    for name, expected in [("a.tar.gz", "a"), ("b.zip", "b"), ("c.tar", "c"), ("d.v2.zip", "d.v2")]:
        (tmp_path / name).write_bytes(b"")
        assert submission_name(tmp_path / name) == expected
    (tmp_path / "e.zip.d").mkdir()
    assert submission_name(tmp_path / "e.zip.d") == "e.zip.d"
