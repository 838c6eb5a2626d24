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
This mirrors ``rust/kernels/src/scoring.rs`` (policy "official"); :func:`aggregate` is the one
entry point, so the implementation can be swapped without touching callers.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from advengine.errors import ShapeError

MISSING = -1
NO_IMAGE = -2

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """Count matrices are ``[attack, defense]``."""

    correct: I64
    error: I64
    hit: I64
    classified: I64
    produced: I64
    attacks_used: Bools
    defenses_used: Bools
    defense_raw: I64
    defense_score: F64
    defense_worst: F64
    attack_raw: I64
    attack_score: F64
    attack_worst: F64


def _rate(num: npt.NDArray[np.int64], den: int) -> F64:
    with np.errstate(invalid="ignore", divide="ignore"):
        out: F64 = num.astype(np.float64) / den if den else np.full(num.shape, np.nan)
    return out


def aggregate(predictions: I64, true_labels: I64, target_classes: I64, is_targeted: Bools) -> Aggregate:
    """Counts and scores for ``predictions`` ``[attacks, defenses, images]``."""
    preds = np.asarray(predictions, dtype=np.int64)
    truth = np.asarray(true_labels, dtype=np.int64)
    target = np.asarray(target_classes, dtype=np.int64)
    targeted = np.asarray(is_targeted, dtype=np.bool_)
    if preds.ndim != 3 or preds.shape[0] != len(targeted) or preds.shape[2] != len(truth):
        raise ShapeError(
            f"predictions must be [attacks={len(targeted)}, defenses, images={len(truth)}], "
            f"got {list(preds.shape)}"
        )
    if target.shape != truth.shape:
        raise ShapeError(f"{len(truth)} true labels but {len(target)} target classes")
    na, nd, n = preds.shape
    labelled = preds >= 0
    correct = (labelled & (preds == truth)).sum(axis=2)
    error = (labelled & (preds != truth)).sum(axis=2)
    hit = (labelled & (preds == target)).sum(axis=2)
    classified = labelled.sum(axis=2)
    produced = (preds[:, 0, :] != NO_IMAGE).sum(axis=1) if nd else np.full(na, n, dtype=np.int64)
    success = np.where(targeted[:, None], hit, error)
    attacks_used = produced == n
    defenses_used = classified.sum(axis=0) == produced.sum()
    ua, ud = attacks_used, defenses_used
    defense_raw = (correct * ua[:, None]).sum(axis=0)
    attack_raw = (success * ud[None, :]).sum(axis=1)
    big = np.iinfo(np.int64).max

    def worst(values: I64, mask: Bools, axis: int, size: int) -> F64:
        if not mask.any() or n == 0:
            return np.full(size, np.nan)
        m = np.where(mask, values, big) if axis == 0 else np.where(mask[None, :], values, big)
        return _rate(m.min(axis=axis), n)

    return Aggregate(
        correct=correct.astype(np.int64),
        error=error.astype(np.int64),
        hit=hit.astype(np.int64),
        classified=classified.astype(np.int64),
        produced=produced.astype(np.int64),
        attacks_used=ua,
        defenses_used=ud,
        defense_raw=defense_raw.astype(np.int64),
        defense_score=_rate(defense_raw, n * int(ua.sum())),
        defense_worst=worst(correct, ua[:, None], 0, nd),
        attack_raw=attack_raw.astype(np.int64),
        attack_score=_rate(attack_raw, n * int(ud.sum())),
        attack_worst=worst(success, ud, 1, na),
    )


__all__ = ["MISSING", "NO_IMAGE", "Aggregate", "aggregate"]
