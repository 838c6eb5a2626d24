"""Safe loading of a submission: a directory, ``.zip``, ``.tar`` or ``.tar.gz`` (protocol §2.1, §4).

Archives come from strangers, so extraction refuses instead of trusting: absolute names, ``..``
components, links of any kind (a symlink or hardlink could point anywhere; real submissions do not
need them), device files and FIFOs, more than ``max_files`` entries, and more than ``max_bytes``
unpacked (counted while writing, so a lying header does not help a zip bomb). Unix modes are kept,
minus set-id bits, so the entry point stays executable. The root is chosen by the original
single-top-directory rule, ignoring ``__MACOSX``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from advengine.errors import SubmissionError
from advengine.submissions.metadata import Metadata, parse_metadata

SUFFIXES = (".tar.gz", ".zip", ".tar")
IGNORED_TOP = "__MACOSX"


@dataclasses.dataclass(frozen=True)
class Caps:
    """Refusal thresholds; the defaults are the original validator's (8 GiB archive, 16 GiB unpacked)."""

    max_archive_bytes: int = 8 << 30
    max_bytes: int = 16 << 30
    max_files: int = 100_000


@dataclasses.dataclass(frozen=True)
class _Member:
    name: PurePosixPath
    is_dir: bool
    size: int
    mode: int


def archive_suffix(path: Path) -> str | None:
    name = path.name.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), None)


def submission_name(path: Path) -> str:
    """The name a submission gets in results: its directory or archive name without the extension."""
    suffix = archive_suffix(path) if path.is_file() else None
    return path.name[: -len(suffix)] if suffix else path.name


def _clean_name(archive: Path, raw: str) -> PurePosixPath:
    name = PurePosixPath(raw.replace("\\", "/"))
    if (
        raw.startswith("/")
        or name.is_absolute()
        or ".." in name.parts
        or (name.parts and ":" in name.parts[0])
    ):
        raise SubmissionError(f"{archive}: entry {raw!r} points outside the archive; refusing to extract it")
    return PurePosixPath(*[p for p in name.parts if p not in ("", ".")])


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> Iterator[tuple[_Member, zipfile.ZipInfo]]:
    for info in zf.infolist():
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise SubmissionError(
                f"{archive}: {info.filename!r} is a symbolic link; replace links by real files"
            )
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise SubmissionError(f"{archive}: {info.filename!r} is not a regular file or directory")
        name = _clean_name(archive, info.filename)
        yield _Member(name, info.is_dir(), info.file_size, stat.S_IMODE(mode)), info


def _tar_members(archive: Path, tf: tarfile.TarFile) -> Iterator[tuple[_Member, tarfile.TarInfo]]:
    for info in tf:
        if info.issym() or info.islnk():
            raise SubmissionError(
                f"{archive}: {info.name!r} is a {'symbolic' if info.issym() else 'hard'} link "
                f"(to {info.linkname!r}); replace links by real files"
            )
        if not (info.isreg() or info.isdir()):
            raise SubmissionError(f"{archive}: {info.name!r} is not a regular file or directory")
        name = _clean_name(archive, info.name)
        yield _Member(name, info.isdir(), info.size, info.mode), info


def _root_prefix(names: list[PurePosixPath], dirs: set[PurePosixPath]) -> PurePosixPath:
    """The single-top-directory rule: one top entry (ignoring __MACOSX) that is a directory."""
    tops = {n.parts[0] for n in names if n.parts and n.parts[0] != IGNORED_TOP}
    if len(tops) == 1:
        top = PurePosixPath(next(iter(tops)))
        if top in dirs or any(len(n.parts) > 1 and n.parts[0] == top.name for n in names):
            return top
    return PurePosixPath()


def _check_caps(source: Path, count: int, total: int, caps: Caps) -> None:
    if count > caps.max_files:
        raise SubmissionError(
            f"{source}: more than {caps.max_files} files; remove what the run does not need"
        )
    if total > caps.max_bytes:
        raise SubmissionError(
            f"{source}: unpacks to more than {caps.max_bytes / 2**30:.3g} GiB; "
            "remove what the run does not need"
        )


def _open_error(path: Path, exc: Exception) -> SubmissionError:
    return SubmissionError(f"{path}: cannot read the archive ({exc}); give a valid .zip, .tar or .tar.gz")


def _copy_capped(src: IO[bytes], dest: Path, mode: int, budget: list[int], caps: Caps, archive: Path) -> None:
    with open(dest, "xb") as out:
        while chunk := src.read(1 << 20):
            budget[0] += len(chunk)
            if budget[0] > caps.max_bytes:
                raise SubmissionError(
                    f"{archive}: unpacks to more than {caps.max_bytes / 2**30:.3g} GiB; "
                    "remove what the run does not need"
                )
            out.write(chunk)
    # Keep rwx bits (the entry point must stay executable) but never set-id or sticky bits.
    os.chmod(dest, (mode & 0o777) | 0o600 if mode else 0o644)


def extract_archive(archive: Path, dest: Path, caps: Caps | None = None) -> Path:
    """Extract ``archive`` safely into ``dest`` (no absolute or ``..`` names, no links out, the caps
    on size and file count); returns the directory holding its contents (a single top-level folder
    is stepped into). ``advengine serve`` unpacks uploaded images with it."""
    return dest / _extract_archive(archive, dest, caps or Caps())


def _extract_archive(archive: Path, dest: Path, caps: Caps) -> PurePosixPath:
    suffix = archive_suffix(archive)
    if suffix is None:
        raise SubmissionError(
            f"{archive}: a submission must be a directory or a .zip, .tar or .tar.gz archive"
        )
    size = archive.stat().st_size
    if size > caps.max_archive_bytes:
        raise SubmissionError(f"{archive}: archive is larger than {caps.max_archive_bytes / 2**30:.3g} GiB")
    budget = [0]
    members: list[_Member] = []

    def place(m: _Member, opener: object) -> None:
        target = dest.joinpath(*m.name.parts) if m.name.parts else dest
        if m.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()  # a repeated name: the later entry wins, as with unzip -o / tar
        assert callable(opener)
        with opener() as src:
            _copy_capped(src, target, m.mode, budget, caps, archive)

    try:
        if suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                listed = list(_zip_members(archive, zf))
                _check_caps(archive, len(listed), sum(m.size for m, _ in listed), caps)
                for m, zinfo in listed:
                    members.append(m)
                    place(m, lambda zinfo=zinfo: zf.open(zinfo))
        else:
            with tarfile.open(archive, "r:gz" if suffix == ".tar.gz" else "r:") as tf:
                tlisted = list(_tar_members(archive, tf))
                _check_caps(archive, len(tlisted), sum(m.size for m, _ in tlisted), caps)
                for m, tinfo in tlisted:
                    members.append(m)
                    place(m, lambda tinfo=tinfo: tf.extractfile(tinfo))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileExistsError | IsADirectoryError | NotADirectoryError):
            raise SubmissionError(
                f"{archive}: a file and a directory share the name {exc.filename!r}"
            ) from None
        raise _open_error(archive, exc) from None
    names = [m.name for m in members if m.name.parts]
    return _root_prefix(names, {m.name for m in members if m.is_dir})


def _check_dir(root: Path, caps: Caps) -> None:
    count = total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                raise SubmissionError(
                    f"{p}: symbolic links are not allowed in a submission; copy the file instead"
                )
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                raise SubmissionError(f"{p}: not a regular file or directory")
            count += 1
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    _check_caps(root, count, total, caps)


def _dir_root(path: Path) -> Path:
    entries = [p for p in path.iterdir() if p.name != IGNORED_TOP]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return path


@dataclasses.dataclass(frozen=True)
class Submission:
    """An unpacked, checked submission: ``root`` holds metadata.json and the entry point."""

    name: str
    source: Path
    root: Path
    metadata: Metadata

    @property
    def entry_point(self) -> Path:
        return self.root / self.metadata.entry_point


def _read_metadata(source: Path, root: Path) -> Metadata:
    meta_path = root / "metadata.json"
    if not meta_path.is_file():
        raise SubmissionError(
            f"{source}: no metadata.json at the submission root; add one (see docs/submissions.md)"
        )
    meta = parse_metadata(meta_path.read_bytes(), source=f"{source}: metadata.json")
    entry = root / meta.entry_point
    if not entry.is_file():
        raise SubmissionError(f"{source}: entry point {meta.entry_point!r} from metadata.json does not exist")
    return meta


def load_submission(path: Path, workdir: Path, caps: Caps | None = None) -> Submission:
    """Check ``path`` and unpack it into ``workdir`` (a fresh directory this call creates).

    Directories are copied too, so later runs never touch the user's files."""
    caps = caps if caps is not None else Caps()
    if not path.exists():
        raise SubmissionError(f"{path}: no such submission; give a directory or a .zip/.tar/.tar.gz archive")
    workdir.mkdir(parents=True, exist_ok=False)
    if path.is_dir():
        _check_dir(path, caps)
        root = _dir_root(path)
        dest = workdir / "root"
        shutil.copytree(root, dest, symlinks=True)
    else:
        prefix = _extract_archive(path, workdir / "x", caps)
        dest = (workdir / "x").joinpath(*prefix.parts)
        if not dest.is_dir():
            raise SubmissionError(f"{path}: the archive is empty")
    return Submission(submission_name(path), path, dest, _read_metadata(path, dest))


def check_entry_point(source: Path, root: Path, entry_point: str) -> None:
    """The entry point must be executable (the original only found out at ``docker run``)."""
    if not os.access(root / entry_point, os.X_OK):
        raise SubmissionError(
            f"{source}: entry point {entry_point!r} is not executable; run chmod +x on it "
            "and keep the mode in the archive"
        )


def read_metadata(path: Path, scratch: Path, caps: Caps | None = None) -> Metadata:
    """Metadata of the submission at ``path`` after the full safety checks (unpacked in ``scratch``),
    its entry point executable: a competition refuses it when the config is loaded, not per piece."""
    sub = load_submission(path, scratch, caps)
    check_entry_point(sub.source, sub.root, sub.metadata.entry_point)
    return sub.metadata


__all__ = [
    "SUFFIXES",
    "Caps",
    "Submission",
    "archive_suffix",
    "check_entry_point",
    "load_submission",
    "read_metadata",
    "submission_name",
]
