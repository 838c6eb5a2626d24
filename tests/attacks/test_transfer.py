"""cross-iterative alternates its source models step by step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from advengine.attacks import build_attack
from advengine.attacks import transfer as transfer_mod


class FakeSource:
    """Records which model was asked; the gradient pushes every pixel up."""

    def __init__(self, name: str, calls: list[str]) -> None:
        self.name = name
        self.calls = calls

    def grad(self, x: Any, y: Any) -> tuple[Any, Any]:
        self.calls.append(self.name)
        return np.zeros((len(x), 1000), np.float32), np.ones_like(x)

    def predict_idx(self, x: Any) -> Any:
        return np.zeros(len(x), np.int64)


def test_steps_alternate_between_models(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(transfer_mod, "get_source", lambda models, *a, **k: FakeSource(models[0], calls))
    attack = build_attack("cross-iterative", {"iterations": 5}, ("efficientnet-lite0", "efficientnet-lite1"))
    monkeypatch.setattr(attack, "source", lambda eps_px: FakeSource("ensemble", calls))
    x = np.full((1, 299, 299, 3), 100, np.uint8)
    out = attack(x, eps=4)
    assert calls == ["efficientnet-lite0", "efficientnet-lite1"] * 2 + ["efficientnet-lite0"]
    assert int(out.max()) == 104  # each step adds 2·ε/5, projected to +ε


def test_every_given_model_supplies_a_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    # The published 2 iterations with three models: still one step on each, none on anything else.
    calls: list[str] = []
    monkeypatch.setattr(transfer_mod, "get_source", lambda models, *a, **k: FakeSource(models[0], calls))
    zoo = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
    attack = build_attack("cross-iterative", {}, zoo)
    monkeypatch.setattr(attack, "source", lambda eps_px: FakeSource("ensemble", calls))
    attack(np.full((1, 299, 299, 3), 100, np.uint8), eps=16)
    assert calls == list(zoo)


def test_targeted_variant_descends_toward_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(transfer_mod, "get_source", lambda models, *a, **k: FakeSource(models[0], calls))
    attack = build_attack("cross-iterative-targeted", {}, ("efficientnet-lite0", "efficientnet-lite1"))
    assert attack.track == "targeted"
    out = attack(np.full((1, 299, 299, 3), 100, np.uint8), eps=4, target_classes=np.array([5]))
    assert len(calls) == 20
    assert calls[:2] == ["efficientnet-lite0", "efficientnet-lite1"]
    assert int(out.max()) == 104  # the fake's gradient, ascended: the CE-targeted head is negated upstream


def test_inclusion_rule_by_hand() -> None:
    # Three images, label (class index) 2, 0, 1; the model predicts 2, 1, 1.
    logits = np.array([[0, 1, 5], [0, 3, 1], [0, 4, 2]], np.float32)
    y = np.array([2, 0, 1])
    # Non-targeted: δ = 1 where the model still predicts the label (images 0 and 2).
    assert transfer_mod.inclusion(logits, y, targeted=False).tolist() == [1.0, 0.0, 1.0]
    # Targeted (y = targets): δ = 1 where the model does not predict the target yet (image 1).
    assert transfer_mod.inclusion(logits, y, targeted=True).tolist() == [0.0, 1.0, 0.0]


class FoolableSource(FakeSource):
    """Predicts class ``pred`` for every image; its gradient is the constant ``value``."""

    def __init__(self, name: str, calls: list[str], pred: int, value: float) -> None:
        super().__init__(name, calls)
        self.pred, self.value = pred, value

    def grad(self, x: Any, y: Any) -> tuple[Any, Any]:
        self.calls.append(self.name)
        logits = np.zeros((len(x), 1000), np.float32)
        logits[:, self.pred] = 1.0
        return logits, np.full_like(x, self.value)


def test_fatfingers_drops_the_models_already_fooled(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    members = {
        "efficientnet-lite0": FoolableSource("lite0", calls, pred=7, value=1.0),  # fooled (label is 0)
        "efficientnet-lite1": FoolableSource("lite1", calls, pred=0, value=-2.0),  # not fooled
    }
    attack = build_attack("fatfingers", {}, tuple(members))
    assert isinstance(attack, transfer_mod.FatFingers)
    monkeypatch.setattr(attack, "member", lambda m: members[m])
    x = np.zeros((2, 3, 4, 4), np.float32)
    g = attack.gradient(FakeSource("ensemble", calls), x, np.array([0, 0]), np.random.default_rng(0))
    # Σ wᵢ δᵢ gᵢ with equal weights ½: only lite1 counts.
    assert np.allclose(g, -1.0)
    assert calls == ["lite0", "lite1"]
    # Targeted at class 7: lite0 already predicts it, so only lite1 pulls.
    targeted = build_attack("fatfingers-targeted", {}, tuple(members))
    monkeypatch.setattr(targeted, "member", lambda m: members[m])
    gt = targeted.gradient(FakeSource("ensemble", calls), x, np.array([7, 7]), np.random.default_rng(0))
    assert np.allclose(gt, -1.0)
