"""Sangxia Huang's plans, per-model draws and parameter checks (the attack on real models runs in
test_gradient.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from advengine.attacks import build_attack
from advengine.attacks import ensemble_eot as eot
from advengine.attacks.ensemble_eot import EnsembleEot, nontargeted_plan, sangxia_schedule, targeted_plan
from advengine.attacks.gradient import IterationState, IterativeAttack
from advengine.errors import ConfigError

ZOO = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


def test_schedule_is_the_published_plan() -> None:
    sched = sangxia_schedule()
    steps = [s for s, _ in sched]
    noise = [n for _, n in sched]
    assert steps == [1.0, 1.0, 0.5, 0.5, 0.5] + [0.5] * 4 + [0.2] * 2 + [0.1] * 8
    # The noise tail is a step (noise_size·0.5 then noise_size·0.2), not a ramp.
    assert noise == [0.2] * 9 + [0.1] * 4 + [0.04] * 6
    # "A few samples per step": 2 draws per model for the first 11 steps, then 1 (2 in the last).
    draws = [sum(d for _, d in models) for models, _, _ in nontargeted_plan()]
    assert draws == [4] * 11 + [2] * 7 + [4]


def test_targeted_plan() -> None:
    plan = targeted_plan()
    assert len(plan) == 43
    steps = [s for _, s, _ in plan]
    assert steps == [1.8] * 10 + [0.9] * 6 + [0.45] * 7 + [0.18] * 20
    assert all(n == 0.0 for _, _, n in plan)
    assert all(models[0] == ("E", 1) for models, _, _ in plan)  # ens-adv-IRv2 in every step


class _Recorder:
    """A per-model source that records each batch it is asked about; the gradient pushes up."""

    def __init__(self, model: str, seen: list[tuple[str, np.ndarray]]) -> None:
        self.model, self.seen = model, seen

    def grad(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.seen.append((self.model, x.copy()))
        return np.zeros((len(x), 1000), np.float32), np.ones_like(x)

    def predict_idx(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x), np.int64)


def test_per_step_model_sets_with_an_independent_theta_per_model_and_draw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, np.ndarray]] = []
    attack = build_attack("ensemble-eot", {}, ZOO)
    assert isinstance(attack, EnsembleEot)
    monkeypatch.setattr(attack, "member_source", lambda m: _Recorder(m, seen))
    monkeypatch.setattr(attack, "source", lambda eps_px: _Recorder("ensemble", seen))
    monkeypatch.setattr(eot, "IMAGE_SIDE", 12)
    x = np.random.default_rng(0).integers(0, 256, (2, 12, 12, 3), dtype=np.uint8)
    monkeypatch.setattr(IterativeAttack, "run", _small_run)
    attack(x, eps=8, seed=3)
    models = [m for m, _ in seen]
    # Step 1 is ResNet-50 twice, 2 draws each: 4 draws of lite2; step 2 adv-v3 and ens-adv-IRv2.
    assert models[:4] == ["efficientnet-lite2"] * 4
    assert models[4:8] == ["efficientnet-lite1"] * 2 + ["efficientnet-lite2"] * 2
    assert len(models) == sum(sum(d for _, d in m) for m, _, _ in nontargeted_plan())
    # Every draw saw its own warp of each image: no two warped batches alike.
    first = [b for _, b in seen[:4]]
    assert all(not np.array_equal(a, b) for a, b in itertools.combinations(first, 2))
    assert not np.array_equal(first[0][0], first[0][1])  # and a θ per image


def _small_run(
    self: IterativeAttack, x: np.ndarray, eps: float, targets: object, rng: np.random.Generator
) -> np.ndarray:
    # The loop of IterativeAttack.run without its 299×299 check (the recorder works on 12×12 images).
    src = self.source(round(eps * 255))
    state = IterationState(src, x, self.labels(src, x, None), eps, 0.0, 0, rng)
    self.iterate(state)
    return state.x


def test_other_models_fall_back_to_every_given_model() -> None:
    attack = build_attack("ensemble-eot-targeted", {}, ("efficientnet-lite0",))
    assert isinstance(attack, EnsembleEot)
    assert attack.track == "targeted"
    # Step 4 is ens-adv-IRv2 alone (lite2), which is not given: the given model instead.
    assert attack.members(targeted_plan()[3]) == [("efficientnet-lite0", 1)]
    assert attack.members(targeted_plan()[0]) == [("efficientnet-lite0", 1)]  # v3 → lite0


@pytest.mark.parametrize("params", [{"aug_scale": -1}, {"samples": 0}, {"noise_scale": -0.5}])
def test_bad_params(params: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        build_attack("ensemble-eot", params)
