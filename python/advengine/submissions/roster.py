"""Submissions as competition roster entries: ``[[submissions]]`` tables and ``--submission PATH``.

A submission entry is a :class:`~advengine.types.SubmissionEntry`: its track comes from
metadata.json, its label (the name in the results) is the directory or archive name without the
extension, and it carries typed sandbox settings. :mod:`advengine.submissions.adapter` runs it.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from advengine.competition.config import CompetitionConfig
from advengine.errors import ConfigError, SubmissionError
from advengine.submissions.archive import read_metadata, submission_name
from advengine.submissions.reaper import release, temp_dir
from advengine.submissions.sandbox import resolve_sandbox
from advengine.types import (
    Entry,
    Membership,
    Resources,
    SandboxChoice,
    SandboxSettings,
    SubmissionEntry,
    SubmissionTable,
)
from advengine.validation import explain


def make_entry(table: SubmissionTable, source: str, key: str) -> SubmissionEntry:
    """The roster entry of one ``[[submissions]]`` table (its metadata is read and checked now)."""
    path = Path(table.path)
    scratch = temp_dir("advengine-meta-")
    try:
        meta = read_metadata(path, scratch / "s")
    except SubmissionError as exc:
        raise ConfigError(f"{source}: {key}: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        release(scratch)
    fields: dict[str, Any] = {
        "track": meta.track,
        "label": table.label or submission_name(path),
        "path": str(path.resolve()),
        "digest": content_digest(path),
        "settings": SandboxSettings(**table.model_dump(include=set(SandboxSettings.model_fields))),
        **table.model_dump(include=set(Membership.model_fields)),
        **table.model_dump(include=set(Resources.model_fields)),
    }
    try:
        return SubmissionEntry.model_validate(fields)
    except ValidationError as exc:
        # Only the label can fail here: the default one, the submission's own name.
        raise ConfigError(
            f"{explain(exc, source, prefix=(key,))}; rename the submission or give label = ..."
        ) from None


def content_digest(path: Path) -> str:
    """Identifies the submission's contents in the run fingerprint, so ``--resume`` refuses a changed
    submission: sha256 of an archive; of every file's relative path, mode and bytes for a directory."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if f != path:
            h.update(f"{f.relative_to(path)}\0{f.stat().st_mode & 0o777}\0".encode())
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def add_submissions(
    cfg: CompetitionConfig,
    paths: Sequence[Path],
    *,
    builtins: bool = True,
    sandbox: str | None = None,
) -> CompetitionConfig:
    """``cfg`` with the submissions at ``paths`` added (``--submission``), without the built-in roster
    when ``builtins`` is false, and with every submission's sandbox set to ``sandbox`` when given."""
    entries: list[Entry] = [e for e in cfg.entries if builtins or isinstance(e, SubmissionEntry)]
    for i, p in enumerate(paths):
        key = f"--submission[{i}]" if len(paths) > 1 else "--submission"
        entries.append(make_entry(SubmissionTable(path=str(p)), "--submission", key))
    if sandbox is not None:
        choice = cast(SandboxChoice, sandbox)
        entries = [
            e.model_copy(update={"settings": e.settings.model_copy(update={"sandbox": choice})})
            if isinstance(e, SubmissionEntry)
            else e
            for e in entries
        ]
    if not builtins and not entries:
        raise ConfigError(
            "--no-builtins leaves no roster: give --submission PATH or [[submissions]] in the config"
        )
    seen: set[str] = set()
    for e in entries:
        if e.label in seen:
            raise ConfigError(
                f"two roster entries are named {e.label!r}; rename one submission (or give it a label)"
            )
        seen.add(e.label)
    return cfg.with_roster(entries)


def check_sandboxes(cfg: CompetitionConfig) -> None:
    """Fail before any piece runs when a submission's sandbox cannot be made (one clear line)."""
    for e in cfg.entries:
        if isinstance(e, SubmissionEntry):
            resolve_sandbox(e.settings.sandbox)


__all__ = ["add_submissions", "check_sandboxes", "content_digest", "make_entry"]
