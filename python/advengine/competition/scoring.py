"""Score aggregation: per-image predictions → attack × defense counts → raw, normalised, worst-case.

Input ``predictions[a, d, i]`` is the label defense ``d`` gave to attack ``a``'s adversarial version
of image ``i``, or a marker: :data:`MISSING` (−1, the image exists but the defense gave no label) or
:data:`NO_IMAGE` (−2, the attack made no image; then it holds for every defense).

The exclusion rules are EVALINFRA's (``master.py results``), used by both scoring modes:
``attacks_used`` are attacks that produced every image, and only they score defenses;
``defenses_used`` are defenses that labelled every produced image, and only they score attacks.

- raw: defense ``Σ_{a used} correct``; non-targeted attack ``Σ_{d used} error`` (a label ≠ true
  label); targeted attack ``Σ_{d used} hit`` (label = target class). EVALINFRA's published scores.
- normalised (Kurakin et al. 2018, eqs 6–8): raw / (N · opponents used), i.e. mean accuracy over
  attack images, mean misclassification rate, mean target-hit rate.
- worst case (eqs 9–10): a defense's minimum accuracy over used attacks; an attack's minimum success
  rate over used defenses.

Normalised and worst-case scores are NaN when no opponent is used or there are no images.
The arithmetic is the Rust kernel ``advengine.kernels.score`` (``rust/kernels/src/scoring.rs``);
:func:`aggregate` is the engine's one entry point to it.

Scoring modes (``scoring`` in the config):

- ``paper`` (default): the report's normalised scores, EVALINFRA's exclusion rules (kernel policy
  "official");
- ``original``: EVALINFRA's raw integer counts, same rules;
- ``devkit``: the participants' toolkit (protocol §3.4): raw counts, everybody used, a missing label
  is a success for a non-targeted attack (N·D − correct) and not correct for the defense (kernel
  policy "devkit");
- ``proposal``: the competition proposal's rule for teams: normalised scores in which an entry is
  scored only against other teams' entries (AttackScore over D − {own}, and the same for defenses);
  entries without a team are their own team.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from advengine.kernels import score
from advengine.kernels.scoring import MISSING, NO_IMAGE, Policy, Scores

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: Count matrices are ``[attack, defense]``; see :class:`advengine.kernels.scoring.Scores`.
Aggregate = Scores


ScoringMode = Literal["paper", "original", "devkit", "proposal"]
#: Modes whose headline ``score`` is the raw integer count (else the normalised rate).
RAW_MODES: frozenset[str] = frozenset({"original", "devkit"})

F64 = npt.NDArray[np.float64]


def aggregate(
    predictions: I64,
    true_labels: I64,
    target_classes: I64,
    is_targeted: Bools,
    mode: ScoringMode = "paper",
    attack_teams: Sequence[str | None] = (),
    defense_teams: Sequence[str | None] = (),
) -> Aggregate:
    """Counts and scores for ``predictions`` ``[attacks, defenses, images]`` (the Rust kernel) under
    ``mode``; ``proposal`` needs the entries' teams (None: an entry of its own)."""
    policy: Policy = "devkit" if mode == "devkit" else "official"
    agg = score(predictions, true_labels, target_classes, is_targeted, policy=policy)
    if mode != "proposal":
        return agg
    n_att, n_def = agg.correct.shape
    if len(attack_teams) != n_att or len(defense_teams) != n_def:
        raise ValueError(f"proposal scoring needs one team per entry ({n_att} attacks, {n_def} defenses)")
    others = np.array(
        [[a is None or d is None or a != d for d in defense_teams] for a in attack_teams], dtype=np.bool_
    ).reshape(n_att, n_def)
    return _against_others(agg, predictions.shape[2], is_targeted, others)


def _against_others(agg: Aggregate, n: int, is_targeted: Bools, others: Bools) -> Aggregate:
    """The scores again with each pair of the same team left out (the counts stay as they are)."""
    success = np.where(is_targeted[:, None], agg.hit, agg.error)
    # Defense d is scored by the attacks used that are another team's; attack a likewise.
    by_att = others & agg.attacks_used[:, None]
    by_def = others & agg.defenses_used[None, :]
    defense_raw = np.where(by_att, agg.correct, 0).sum(axis=0)
    attack_raw = np.where(by_def, success, 0).sum(axis=1)
    return dataclasses.replace(
        agg,
        defense_raw=defense_raw.astype(np.int64),
        defense_score=_rate(defense_raw, by_att.sum(axis=0), n),
        defense_worst=_worst(agg.correct, by_att, n, axis=0),
        attack_raw=attack_raw.astype(np.int64),
        attack_score=_rate(attack_raw, by_def.sum(axis=1), n),
        attack_worst=_worst(success, by_def, n, axis=1),
    )


def _rate(raw: I64, opponents: I64, n: int) -> F64:
    den = (opponents * n).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: F64 = np.where(den > 0, raw / np.where(den > 0, den, 1.0), np.nan)
    return out


def _worst(counts: I64, used: Bools, n: int, axis: int) -> F64:
    masked = np.where(used, counts, np.iinfo(np.int64).max)
    low = masked.min(axis=axis, initial=np.iinfo(np.int64).max)
    out: F64 = np.where(used.any(axis=axis) & (n > 0), low / max(n, 1), np.nan)
    return out


def headline(mode: ScoringMode, raw: int, normalised: float) -> float | int | None:
    """The ``score`` of an entry in ``mode``: the raw count or the normalised rate (None for NaN)."""
    if mode in RAW_MODES:
        return int(raw)
    return None if np.isnan(normalised) else float(normalised)


__all__ = ["MISSING", "NO_IMAGE", "RAW_MODES", "Aggregate", "ScoringMode", "aggregate", "headline"]
