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
The arithmetic is the Rust kernel ``advengine.kernels.score`` (``rust/kernels/src/scoring.rs``, policy
"official"); :func:`aggregate` is the engine's one entry point to it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from advengine.kernels import score
from advengine.kernels.scoring import MISSING, NO_IMAGE, Scores

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: Count matrices are ``[attack, defense]``; see :class:`advengine.kernels.scoring.Scores`.
Aggregate = Scores


def aggregate(predictions: I64, true_labels: I64, target_classes: I64, is_targeted: Bools) -> Aggregate:
    """Counts and scores for ``predictions`` ``[attacks, defenses, images]`` (the Rust kernel)."""
    return score(predictions, true_labels, target_classes, is_targeted, policy="official")


def robust_accuracy(predictions: I64, true_labels: I64, attacks_used: Bools) -> npt.NDArray[np.float64]:
    """Per defense, the per-image robust accuracy: the share of images whose label is the true one
    under *every* used attack of the roster (either track: a targeted attack that misses its target
    but changes the label still broke the image). A missing label is not a correct one. NaN without
    images or used attacks. Unlike the worst score (the worst single attack), an image counts only if
    all attacks failed on it, the headline number of robustness evaluations (Croce & Hein 2020)."""
    used = predictions[np.asarray(attacks_used, bool)]
    if used.shape[0] == 0 or used.shape[2] == 0:
        return np.full(predictions.shape[1], np.nan)
    correct = (used == true_labels[None, None, :]).all(axis=0)
    out: npt.NDArray[np.float64] = correct.mean(axis=1)
    return out


__all__ = ["MISSING", "NO_IMAGE", "Aggregate", "aggregate", "robust_accuracy"]
