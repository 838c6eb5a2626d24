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
