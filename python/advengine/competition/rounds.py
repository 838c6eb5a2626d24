"""Rounds: a competition run as several rounds (the development rounds on DEV, the final round on the
secret set), one after the other, each a whole run of its own in ``<out>/<round name>``.

After each round the summary per track compares the round's top entry (not a baseline) with its best
baseline (entries marked ``baseline = true``), the data of the report's Fig. 1; ``rounds.json`` in
``<out>`` holds every summary, and each round's own results.json everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from advengine.competition.artefacts import (
    EntryResult,
    Results,
    Rounds,
    RoundSummary,
    Standing,
    TrackSummary,
    save,
)
from advengine.competition.config import CompetitionConfig
from advengine.competition.engine import run_competition
from advengine.competition.report import groups, ranked


def _standing(items: list[EntryResult]) -> Standing | None:
    best = ranked(items)
    return Standing(name=best[0].name, team=best[0].team, score=best[0].score) if best else None


def summarise(name: str, out: Path, results: Results) -> RoundSummary:
    """The round's top entry against its best baseline, per track."""
    tracks = []
    for track, items in groups(results):
        top = _standing([it for it in items if not it.baseline])
        base = _standing([it for it in items if it.baseline])
        margin = None
        if top is not None and base is not None and top.score is not None and base.score is not None:
            margin = float(top.score) - float(base.score)
        tracks.append(TrackSummary(track=track, top=top, best_baseline=base, margin=margin))
    return RoundSummary(
        name=name, images=results.dataset.images, mode=results.mode, out=str(out), tracks=tracks
    )


def run_rounds(
    config: CompetitionConfig,
    out: Path,
    run: Callable[[CompetitionConfig, Path], Results] = run_competition,
    say: Callable[[str], None] | None = None,
) -> Rounds:
    """Run every round of ``config`` with ``run`` (``run_competition`` with the caller's options) in
    ``out/<round>``, each resumable on its own, and write ``out/rounds.json``."""
    summaries = []
    for r in config.rounds:
        assert r.round_name is not None  # set when the round was read
        if say is not None:
            say(f"round {r.round_name}")
        where = out / r.round_name
        summaries.append(summarise(r.round_name, where, run(r, where)))
    rounds = Rounds(rounds=summaries)
    out.mkdir(parents=True, exist_ok=True)
    save(out / "rounds.json", rounds)
    return rounds


__all__ = ["run_rounds", "summarise"]
