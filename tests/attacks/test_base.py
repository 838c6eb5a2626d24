"""The final Attack.__call__ enforces the budget whatever run() returns."""

from __future__ import annotations

import numpy as np
import pytest

from advengine.attacks import Attack, build_attack, from_model_output, to_model_input
from advengine.errors import ConfigError, ParameterError, ShapeError
from advengine.params import Params
from advengine.types import AttackTrack, ImagesF32, Labels


class Wild(Attack[Params]):
    """Ignores the budget on purpose: returns the inverted image."""

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        return np.float32(1.0) - x


def wild(track: AttackTrack = "nontargeted") -> Wild:
    return Wild(Params(), name="wild", track=track)


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)


@pytest.mark.parametrize("eps", [0, 4, 16, 255])
def test_budget_is_enforced(images: np.ndarray, eps: int) -> None:
    adv = wild()(images, eps=eps)
    assert adv.dtype == np.uint8
    assert adv.shape == images.shape
    assert int(np.abs(adv.astype(int) - images).max()) <= eps


def test_round_trip_is_exact(images: np.ndarray) -> None:
    np.testing.assert_array_equal(from_model_output(to_model_input(images)), images)


def test_noop_and_random_noise(images: np.ndarray) -> None:
    np.testing.assert_array_equal(build_attack("noop")(images, eps=16), images)
    a = build_attack("random-noise")
    one, two = a(images, eps=8, seed=3), a(images, eps=8, seed=3)
    np.testing.assert_array_equal(one, two)
    diff = np.abs(one.astype(int) - images)
    assert diff.max() == 8
    assert not np.array_equal(one, a(images, eps=8, seed=4))


def test_targeted_needs_targets(images: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="targeted"):
        wild("targeted")(images, eps=4)
    with pytest.raises(ParameterError, match=r"1\.\.1000"):
        wild("targeted")(images, eps=4, target_classes=np.array([0, 1, 2]))
    with pytest.raises(ShapeError, match="3 integer labels"):
        wild("targeted")(images, eps=4, target_classes=np.array([1, 2]))
    wild("targeted")(images, eps=4, target_classes=np.array([1, 2, 1000]))


@pytest.mark.parametrize("eps", [-1, 256, 2.0, True])
def test_bad_eps(images: np.ndarray, eps: object) -> None:
    with pytest.raises(ParameterError, match="eps"):
        wild()(images, eps=eps)  # type: ignore[arg-type]


def test_bad_images() -> None:
    with pytest.raises(ShapeError, match="uint8"):
        wild()(np.zeros((2, 4, 4, 3), np.float32), eps=1)


def test_unknown_attack_lists_known() -> None:
    with pytest.raises(ConfigError, match=r"known attacks: .*noop"):
        build_attack("nope")


def test_repr_shows_params() -> None:
    assert repr(build_attack("noop")) == "noop()"
    assert repr(build_attack("random-noise", models=["m"])) == "random-noise(models=['m'])"
