"""The sample an entry runs again on: draw() keeps the items' order and never repeats one."""

from __future__ import annotations

import numpy as np

from advengine.competition.rules.rerun import draw


def test_draw_takes_all_when_there_are_no_more() -> None:
    items = [("a", 3, 1), ("b", 0, 2)]
    assert draw(np.random.default_rng(0), items, 2) == items
    assert draw(np.random.default_rng(0), [], 5) == []


def test_draw_samples_without_replacement_in_order() -> None:
    items = list(range(100))
    drawn = draw(np.random.default_rng(1), items, 10)
    assert len(drawn) == len(set(drawn)) == 10
    assert drawn == sorted(drawn)
    assert drawn == draw(np.random.default_rng(1), items, 10)  # the seed decides it
    assert drawn != draw(np.random.default_rng(2), items, 10)
