"""Score aggregation of a competition (NIPS 2017 protocol §3.4 devkit, §5.4 official).

Input ``predictions[attack, defense, image]``: the label (TF-Slim numbering, ≥ 0) that a defense
gave to an attack's adversarial version of an image, or a marker: :data:`MISSING` (−1), the image
exists but the defense wrote no label; :data:`NO_IMAGE` (−2), the attack made no image for this
input (then for every defense).

Count matrices, attack × defense: ``correct`` (label = true label), ``error`` (a label ≠ true
label), ``hit`` (label = target class; counted for every attack, used for targeted ones),
``classified`` (a label was given), ``missing`` (no label, for either reason); per attack
``produced`` (images made).

Success of an attack against a defense: ``hit`` for targeted attacks; ``error`` for non-targeted
ones, plus every missing label under the ``devkit`` policy.

Policies:

- ``official`` (EVALINFRA ``master.py results``): attacks that did not produce every image are not
  used to score defenses; defenses that left any label out are not used to score attacks; missing
  labels earn nobody anything. (Blacklisting and negated scores are the caller's business.)
- ``devkit`` (``run_attacks_and_defenses.py``): everybody is used; a missing label counts as a
  success for a non-targeted attack, a miss for a targeted one, and not correct for the defense.

Scores over the opponents used, with N images: raw (the competition's integer scores): defense
``Σ_a correct``, attack ``Σ_d success``; normalised (Kurakin et al. 2018): raw / (N · opponents),
i.e. mean accuracy over attacks and mean success rate over defenses; worst case: the defense's
minimum accuracy over attacks and the attack's minimum success rate over defenses. Normalised and
worst-case scores are NaN when no opponent is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from advengine import _core
from advengine.errors import ParameterError, ShapeError

MISSING = -1
NO_IMAGE = -2

Policy = Literal["official", "devkit"]
POLICIES: tuple[Policy, ...] = ("official", "devkit")

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Scores:
    """Counts (``[attack, defense]`` int64 matrices) and scores of one competition."""

    policy: Policy
    correct: I64
    error: I64
    hit: I64
    classified: I64
    missing: I64
    produced: I64
    attacks_used: Bools
    defenses_used: Bools
    defense_raw: I64
    defense_score: F64
    defense_worst: F64
    attack_raw: I64
    attack_score: F64
    attack_worst: F64


def _labels(a: npt.ArrayLike, name: str, ndim: int) -> I64:
    arr = np.asarray(a)
    if arr.ndim != ndim:
        raise ShapeError(f"{name} must have {ndim} dimension(s), got shape {list(arr.shape)}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ShapeError(f"{name} must hold integers, got dtype {arr.dtype.name}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def score(
    predictions: npt.ArrayLike,
    true_labels: npt.ArrayLike,
    target_classes: npt.ArrayLike | None,
    is_targeted: npt.ArrayLike,
    policy: Policy = "official",
) -> Scores:
    """Aggregate ``predictions[attack, defense, image]`` into counts and scores.

    ``true_labels`` and ``target_classes`` have one entry per image (``target_classes`` may be None
    when no attack is targeted); ``is_targeted`` one bool per attack.
    """
    if policy not in POLICIES:
        raise ParameterError(f"unknown missing-output policy {policy!r}; use 'official' or 'devkit'")
    preds = _labels(predictions, "predictions", 3)
    truth = _labels(true_labels, "true_labels", 1)
    targeted = np.ascontiguousarray(np.asarray(is_targeted), dtype=np.bool_)
    if targeted.ndim != 1:
        raise ShapeError(f"is_targeted must be one bool per attack, got shape {list(targeted.shape)}")
    if target_classes is None:
        if targeted.any():
            raise ParameterError("target_classes are required when an attack is targeted")
        targets = np.full(truth.shape, MISSING, dtype=np.int64)
    else:
        targets = _labels(target_classes, "target_classes", 1)
    raw = _core.score_matrix(preds, truth, targets, targeted, policy)
    return Scores(policy=policy, **raw)
