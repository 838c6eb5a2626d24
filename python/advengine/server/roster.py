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
from advengine.submissions.roster import make_entry
from advengine.types import Entry, SubmissionEntry, SubmissionTable


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


def entry_of(sub: Submission, state: Path, sandbox: str) -> SubmissionEntry:
    table = SubmissionTable(path=str(state / sub.blob), label=sub.label, team=sub.team.name)
    entry = make_entry(table, "server", f"submission {sub.id}")
    settings = entry.settings.model_copy(update={"sandbox": sandbox})
    return entry.model_copy(update={"settings": settings})


def round_config(
    base: CompetitionConfig, subs: list[Submission], state: Path, sandbox: str
) -> CompetitionConfig:
    """``base`` (the round's config) with the live submissions added after its own entries."""
    entries: list[Entry] = [*base.entries, *(entry_of(sub, state, sandbox) for sub in subs)]
    return base.with_roster(entries)


__all__ = ["entry_of", "live", "round_config"]
