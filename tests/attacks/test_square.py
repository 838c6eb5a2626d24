"""Square Attack: the published p schedule, and score-only success against lite0 and the median
pipeline with a small query budget."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from advengine.attacks import build_attack
from advengine.attacks.square import margin_loss, p_selection
from advengine.defenses import build_defense

U8 = npt.NDArray[np.uint8]
Sample = tuple[U8, npt.NDArray[np.int64], npt.NDArray[np.int64]]
LITE0 = ("efficientnet-lite0",)


def test_p_schedule_halves_at_the_published_fractions() -> None:
    assert p_selection(0.8, 0, 10000) == 0.8
    assert p_selection(0.8, 11, 10000) == 0.4
    assert p_selection(0.8, 8001, 10000) == 0.8 / 512
    assert p_selection(0.8, 51, 1000) == 0.8 / 16  # 510 of 10 000


def test_margin_is_negative_when_fooled() -> None:
    z = np.array([[1.0, 3.0, 0.0]], np.float32)
    assert margin_loss(z, np.array([0]), None)[0][0] == -2.0
    assert margin_loss(z, np.array([1]), None)[0][0] == 2.0
    margin, ce = margin_loss(z, np.array([0]), np.array([1]))
    assert margin[0] == -2.0  # the target leads: fooled
    assert ce[0] > 0


def test_square_fools_lite0_by_scores_alone(sample8: Sample) -> None:
    images = sample8[0][:4]
    clf = build_defense("classifier", {}, LITE0)
    clean = clf(images)
    adv = build_attack("square-linf", {"queries": 150}, LITE0)(images, eps=16, seed=0)
    assert int(np.abs(adv.astype(np.int16) - images).max()) <= 16
    assert int((clf(adv) != clean).sum()) >= 2
