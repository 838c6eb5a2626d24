"""Submissions as competition roster entries: ``[[submissions]]`` tables, ``--submission PATH``, and
the work piece that runs one batch through :mod:`advengine.submissions.runner`.

A submission entry is an :class:`~advengine.competition.config.Entry` with ``name="submission"``,
``submission=<path>`` and its sandbox settings as params; its track comes from metadata.json and its
label (the name in the results) is the directory or archive name without the extension.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from advengine.errors import ConfigError, SubmissionError
from advengine.submissions.archive import Submission, load_submission, read_metadata, submission_name
from advengine.submissions.reaper import release, temp_dir
from advengine.submissions.runner import Settings, run_attack, run_defense
from advengine.submissions.sandbox import CHOICES, Limits, resolve_sandbox

if TYPE_CHECKING:
    from advengine.competition.config import CompetitionConfig, Entry
    from advengine.competition.pieces import AttackInputs, DefenseInputs

NAME = "submission"
_KEYS = {"path", "label", "sandbox", "memory_mb", "nproc", "fsize_mb", "disk_mb", "gpus"}
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DEFAULTS: dict[str, Any] = {
    "sandbox": "auto",
    "memory_mb": 8192,
    "nproc": 256,
    "fsize_mb": 1024,
    "disk_mb": 2048,
    "gpus": "",
}


def _int_param(source: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{source}: {key} must be a positive integer, got {value!r}")
    return value


def make_entry(path: Path, source: str, key: str, raw: Mapping[str, Any] | None = None) -> Entry:
    """One roster entry for the submission at ``path`` (its metadata is read and checked now)."""
    from advengine.competition.config import CLEAN, Entry

    raw = dict(raw or {})
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: {key}.{unknown[0]} is not a known key (known: {', '.join(sorted(_KEYS))})"
        )
    params = {k: raw.get(k, v) for k, v in _DEFAULTS.items()}
    if params["sandbox"] not in CHOICES:
        raise ConfigError(
            f"{source}: {key}.sandbox must be one of {', '.join(CHOICES)}, got {params['sandbox']!r}"
        )
    for k in ("memory_mb", "nproc", "fsize_mb", "disk_mb"):
        _int_param(source, f"{key}.{k}", params[k])
    if not isinstance(params["gpus"], str):
        raise ConfigError(
            f'{source}: {key}.gpus must be a docker --gpus value such as "all", got {params["gpus"]!r}'
        )
    scratch = temp_dir("advengine-meta-")
    try:
        meta = read_metadata(path, scratch / "s")
    except SubmissionError as exc:
        raise ConfigError(f"{source}: {key}: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        release(scratch)
    label = raw.get("label", submission_name(path))
    if not isinstance(label, str) or not _LABEL.match(label) or label == CLEAN:
        raise ConfigError(
            f"{source}: {key}.label {label!r} must be letters, digits, '.', '_' or '-' (not 'clean'); "
            "rename the submission or give label = ..."
        )
    track = cast(Any, meta.track)
    params["digest"] = content_digest(path)
    return Entry(track=track, name=NAME, label=label, params=params, submission=str(path.resolve()))


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


def parse_submissions(raw: Any, source: str) -> list[Entry]:
    """The ``[[submissions]]`` array of a config (paths taken as given)."""
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: submissions must be an array of tables ([[submissions]] path = ...)")
    out = []
    for i, item in enumerate(raw):
        key = f"submissions[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
            raise ConfigError(f"{source}: {key}.path must be the path of a submission dir or archive")
        out.append(make_entry(Path(item["path"]), source, key, item))
    return out


def add_submissions(
    cfg: CompetitionConfig,
    paths: Sequence[Path],
    *,
    builtins: bool = True,
    sandbox: str | None = None,
) -> CompetitionConfig:
    """``cfg`` with the submissions at ``paths`` added (``--submission``), without the built-in roster
    when ``builtins`` is false, and with every submission's sandbox set to ``sandbox`` when given."""
    entries = {"nontargeted": [], "targeted": [], "defense": []}  # type: dict[str, list[Entry]]
    for e in cfg.attacks + cfg.targeted_attacks + cfg.defenses:
        if builtins or e.submission is not None:
            entries[e.track].append(e)
    for i, p in enumerate(paths):
        e = make_entry(p, "--submission", f"--submission[{i}]" if len(paths) > 1 else "--submission", {})
        entries[e.track].append(e)
    if sandbox is not None:
        for track, items in entries.items():
            entries[track] = [
                dataclasses.replace(e, params={**e.params, "sandbox": sandbox}) if e.submission else e
                for e in items
            ]
    if not builtins and not any(entries.values()):
        raise ConfigError(
            "--no-builtins leaves no roster: give --submission PATH or [[submissions]] in the config"
        )
    seen: set[str] = set()
    for e in (*entries["nontargeted"], *entries["targeted"], *entries["defense"]):
        if e.label in seen:
            raise ConfigError(
                f"two roster entries are named {e.label!r}; rename one submission (or give it a label)"
            )
        seen.add(e.label)
    return dataclasses.replace(
        cfg,
        attacks=tuple(entries["nontargeted"]),
        targeted_attacks=tuple(entries["targeted"]),
        defenses=tuple(entries["defense"]),
    )


def check_sandboxes(cfg: CompetitionConfig) -> None:
    """Fail before any piece runs when a submission's sandbox cannot be made (one clear line)."""
    for e in cfg.attacks + cfg.targeted_attacks + cfg.defenses:
        if e.submission is not None:
            resolve_sandbox(str(e.params["sandbox"]))


def bind_run(cfg: CompetitionConfig, run_root: Path) -> CompetitionConfig:
    """Give every submission entry the run's time limit and log directory (done by the engine)."""

    def bind(items: tuple[Entry, ...]) -> tuple[Entry, ...]:
        return tuple(
            dataclasses.replace(
                e,
                params={
                    **e.params,
                    "time_limit": cfg.time_limit,
                    "log_root": str(run_root.resolve() / "logs"),
                },
            )
            if e.submission is not None
            else e
            for e in items
        )

    return dataclasses.replace(
        cfg,
        attacks=bind(cfg.attacks),
        targeted_attacks=bind(cfg.targeted_attacks),
        defenses=bind(cfg.defenses),
    )


def settings_of(params: Mapping[str, Any]) -> Settings:
    """Run settings from an entry's params. The submission's own limit leaves room for the TERM grace
    and for saving outputs and logs before the engine's limit for the piece runs out."""
    limit = float(params.get("time_limit", 500.0))
    grace = min(10.0, 0.1 * limit)
    limits = Limits(
        memory_bytes=int(params["memory_mb"]) << 20,
        nproc=int(params["nproc"]),
        fsize_bytes=int(params["fsize_mb"]) << 20,
        disk_bytes=int(params.get("disk_mb", _DEFAULTS["disk_mb"])) << 20,
    )
    run_limit = limit - grace - min(2.0, 0.05 * limit)
    return Settings(str(params["sandbox"]), limits, run_limit, grace, str(params.get("gpus") or "") or None)


_LOADED: dict[str, Submission] = {}


def _loaded(path: str) -> Submission:
    """The submission unpacked once per process (workers each keep their own copy)."""
    sub = _LOADED.get(path)
    if sub is None:
        work = temp_dir("advengine-subs-")  # removed by the reaper however this process ends
        sub = load_submission(Path(path), work / "s")
        _LOADED[path] = sub
    return sub


def run_submission_piece(entry: Entry, inputs: AttackInputs | DefenseInputs, piece: str = "") -> Any:
    """One batch through the submission: a list of images (None = missing) or labels (−1 = missing)."""
    from advengine.competition.pieces import DefenseInputs

    assert entry.submission is not None
    sub = _loaded(entry.submission)
    settings = settings_of(entry.params)
    log_root = entry.params.get("log_root")
    log_dir = Path(str(log_root), *piece.split("/")) if log_root and piece else None
    if isinstance(inputs, DefenseInputs):
        labels, _ = run_defense(sub, inputs.images, settings, log_dir)
        return labels
    images, _ = run_attack(sub, inputs.images, inputs.eps, inputs.target_classes, settings, log_dir)
    return images


def missing_mask(value: Any) -> np.ndarray | None:
    """Indices of the images an attack piece did produce, or None when it produced all of them."""
    if isinstance(value, list) and any(v is None for v in value):
        return np.array([k for k, v in enumerate(value) if v is not None], dtype=np.int64)
    return None


__all__ = [
    "NAME",
    "add_submissions",
    "bind_run",
    "check_sandboxes",
    "content_digest",
    "make_entry",
    "missing_mask",
    "parse_submissions",
    "run_submission_piece",
    "settings_of",
]
