"""Sangxia Huang's schedule and parameter checks (the attack itself runs in test_gradient.py)."""

from __future__ import annotations

import itertools

import pytest

from advengine.attacks import build_attack
from advengine.attacks.ensemble_eot import sangxia_schedule
from advengine.errors import ConfigError


def test_schedule_has_three_phases_of_19_sign_steps() -> None:
    sched = sangxia_schedule()
    steps = [s for s, _ in sched]
    noise = [n for _, n in sched]
    assert steps == [1.0, 1.0, 0.5, 0.5, 0.5] + [0.5] * 4 + [0.2] * 2 + [0.1] * 8
    assert noise[:9] == [0.2] * 9
    assert noise[9:11] == [0.1, 0.1]
    assert noise[11] == pytest.approx(0.1)
    assert noise[-1] == pytest.approx(0.04)
    assert all(a >= b for a, b in itertools.pairwise(noise[11:]))


@pytest.mark.parametrize("params", [{"aug_scale": -1}, {"samples": 0}, {"noise_scale": -0.5}])
def test_bad_params(params: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        build_attack("ensemble-eot", params)
