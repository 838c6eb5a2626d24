"""The numbers behind the report's tables and figures: leaderboard rows, the attack × defense rates
and the per-ε curves, from a :class:`~advengine.reporting.rundir.RunView`."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.reporting.rundir import EntryInfo, RunView
from advengine.types import CLEAN

F64 = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class Row:
    """One leaderboard line (the paper's columns plus the piece counts)."""

    rank: int | None
    name: str
    entry: str
    baseline: bool
    submission: bool
    score: float | int | None
    raw: int | None
    worst: float | None
    median_seconds: float | None
    seconds_per_100: float | None
    excluded: bool
    reason: str | None
    clean_accuracy: float | None
    ok: int
    failed: int
    missing: int
    #: Defenses: the share of images labelled correctly under every used attack.
    robust_accuracy: float | None = None
    #: With ``ranking = "strength"``: the entry's strength (docs/competition.md).
    strength: float | None = None


def _scored(view: RunView, e: EntryInfo) -> dict[str, Any]:
    items = view.scored.get("defenses" if e.track == "defense" else "attacks", [])
    return next((x for x in items if x["name"] == e.label), {})


def _timing(view: RunView, e: EntryInfo) -> tuple[float | None, float | None, int, int]:
    # As the engine does: a defense's time is the median over adversarial batches.
    mine = [
        p
        for p in view.pieces
        if p.entry == e.label and p.kind == ("defense" if e.track == "defense" else "attack")
    ]
    ok = [p for p in mine if p.status == "ok" and p.attack != CLEAN]
    seconds = [p.seconds for p in ok]
    per_100 = [100.0 * p.seconds / p.images for p in ok if p.images > 0]
    median = statistics.median(seconds) if seconds else None
    return (
        median,
        (statistics.median(per_100) if per_100 else None),
        len(mine),
        len(mine) - sum(p.status == "ok" for p in mine),
    )


def leaderboard(view: RunView, track: str) -> list[Row]:
    """The entries of ``track``, best first; unscored entries last, without a rank."""
    rows = []
    for e in view.entries(track):
        s = _scored(view, e)
        median, per_100, done, failed = _timing(view, e)
        prefix = f"defense/{e.label}/" if track == "defense" else f"attack/{e.label}/"
        rows.append(
            Row(
                rank=None,
                name=e.label,
                entry=e.name,
                baseline=e.baseline,
                submission=e.submission is not None,
                score=s.get("score"),
                raw=s.get("raw_score"),
                worst=s.get("worst_score"),
                median_seconds=median,
                seconds_per_100=per_100,
                excluded=bool(s.get("excluded", False)),
                reason=s.get("exclusion_reason") if s.get("excluded") else None,
                clean_accuracy=s.get("clean_accuracy"),
                robust_accuracy=s.get("robust_accuracy"),
                strength=s.get("strength"),
                ok=done - failed,
                failed=failed,
                missing=sum(m.startswith(prefix) for m in view.missing),
            )
        )
    if (view.results or {}).get("ranking") == "strength":
        # The strength ranking orders the boards by strength, as leaderboard.md and the CSVs do.
        rows.sort(key=lambda r: (r.strength is None, -(r.strength or 0), r.name))
        return [
            dataclasses.replace(r, rank=k if r.strength is not None else None) for k, r in enumerate(rows, 1)
        ]
    rows.sort(key=lambda r: (r.score is None, -(r.score or 0), r.name))
    return [dataclasses.replace(r, rank=k if r.score is not None else None) for k, r in enumerate(rows, 1)]


def _matrix(view: RunView, key: str) -> F64 | None:
    m = view.scored.get("matrices", {})
    if key not in m:
        return None
    return np.asarray(m[key], dtype=np.float64).reshape(len(view.attacks), len(view.defenses))


def rate_matrix(view: RunView, what: str) -> F64 | None:
    """``[attack, defense]`` accuracy (``what="correct"``) or target-hit rate (``"hit"``) over the
    images the defense labelled; NaN where it labelled none."""
    counts, classified = _matrix(view, what), _matrix(view, "classified")
    if counts is None or classified is None:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(classified > 0, counts / np.maximum(classified, 1), np.nan)


def clean_accuracy(view: RunView) -> F64:
    """Each defense's accuracy on the clean images it labelled (NaN if none)."""
    if view.clean_predictions is not None and view.truth is not None:
        given = view.clean_predictions >= 0
        correct = (view.clean_predictions == view.truth.true_labels) & given
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(given.sum(1) > 0, correct.sum(1) / np.maximum(given.sum(1), 1), np.nan)
    values = [_scored(view, d).get("clean_accuracy") for d in view.defenses]
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class EpsCurves:
    eps: list[int]
    #: ``[defense, eps]`` accuracy over every attack's images of that ε.
    defense_accuracy: F64
    #: ``[attack, eps]`` success (error rate, or target-hit rate) over every defense's labels.
    attack_success: F64


def eps_curves(view: RunView) -> EpsCurves | None:
    """Accuracy per defense and success per attack at each ε, from the per-image labels."""
    if view.truth is None or view.predictions is None:
        return None
    preds, truth = view.predictions, view.truth
    eps_of = truth.image_eps
    values = sorted({b.eps for b in truth.batches})
    given = preds >= 0
    correct = (preds == truth.true_labels) & given
    hit = (preds == truth.target_classes) & given
    targeted = np.array([a.track == "targeted" for a in view.attacks], dtype=np.bool_)
    success = np.where(targeted[:, None, None], hit, given & ~correct)
    acc = np.full((len(view.defenses), len(values)), np.nan)
    suc = np.full((len(view.attacks), len(values)), np.nan)
    for k, e in enumerate(values):
        cols = eps_of == e
        with np.errstate(invalid="ignore", divide="ignore"):
            acc[:, k] = correct[:, :, cols].sum((0, 2)) / given[:, :, cols].sum((0, 2))
            suc[:, k] = success[:, :, cols].sum((1, 2)) / given[:, :, cols].sum((1, 2))
    return EpsCurves(values, acc, suc)


__all__ = ["EpsCurves", "Row", "clean_accuracy", "eps_curves", "leaderboard", "rate_matrix"]
