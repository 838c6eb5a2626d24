"""A round's roster as the server runs it: the competition file's entries (the organiser's
baselines) plus every team's live submission to that round (the newest of each name, neither
rejected nor failed), each a :class:`~advengine.types.SubmissionEntry` made by the existing
``make_entry`` from its stored archive."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from advengine.competition.config import CompetitionConfig
from advengine.server.db import FAILED, REJECTED, Submission
from advengine.server.uploaded import IMAGES, LABELS, PLUGIN, TARGETED_IMAGES, UploadedParams
from advengine.submissions.roster import make_entry
from advengine.types import BuiltinEntry, Entry, SubmissionTable, Track


def live(s: Session, round_name: str) -> list[Submission]:
    """The round's submissions on the roster, oldest first (a stable roster order)."""
    rows = s.scalars(
        select(Submission)
        .where(
            Submission.round == round_name,
            Submission.replaced.is_(False),
            Submission.state.not_in((REJECTED, FAILED)),
        )
        .order_by(Submission.id)
    ).all()
    return list(rows)


_TRACKS: dict[str, Track] = {"attack": "nontargeted", "targeted-attack": "targeted", "defense": "defense"}


def entry_of(sub: Submission, state: Path, sandbox: str, mode: str = "code") -> Entry:
    """The roster entry of a live submission: its archive run in the sandbox, or in a test round
    its checked images or labels (:mod:`advengine.server.uploaded`)."""
    if mode == "uploads":
        where = state / "uploads" / sub.round / sub.digest
        track = _TRACKS[sub.track]
        name = {"nontargeted": IMAGES, "targeted": TARGETED_IMAGES, "defense": LABELS}[track]
        path = where / "labels.json" if track == "defense" else where
        return BuiltinEntry(
            track=track,
            name=name,
            label=sub.label,
            params=UploadedParams(path=str(path)),
            given={"path": str(path)},
            team=sub.team.name,
        )
    table = SubmissionTable(path=str(state / sub.blob), label=sub.label, team=sub.team.name)
    entry = make_entry(table, "server", f"submission {sub.id}")
    settings = entry.settings.model_copy(update={"sandbox": sandbox})
    return entry.model_copy(update={"settings": settings})


def round_config(
    base: CompetitionConfig, subs: list[Submission], state: Path, sandbox: str
) -> CompetitionConfig:
    """``base`` (the round's config) with the live submissions added after its own entries."""
    mode = base.round_mode
    entries: list[Entry] = [*base.entries, *(entry_of(sub, state, sandbox, mode) for sub in subs)]
    cfg = base.with_roster(entries)
    if mode == "uploads" and PLUGIN not in cfg.plugins:
        cfg = cfg.model_copy(update={"plugins": (*cfg.plugins, PLUGIN)})
    return cfg


__all__ = ["entry_of", "live", "round_config"]
