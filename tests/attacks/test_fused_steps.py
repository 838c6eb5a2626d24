"""The fused path of the iterative attacks (IterativeAttack.iterate_fused): the whole step in the
source graph through StepRunner, against the host loop (IterativeAttack.iterate) on the same images."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from advengine.attacks import build_attack
from advengine.attacks.gradient import IterativeAttack
from advengine.attacks.sources import Source

U8 = npt.NDArray[np.uint8]
Sample = tuple[U8, npt.NDArray[np.int64], npt.NDArray[np.int64]]
LITE0 = ("efficientnet-lite0",)

#: The attacks that run fused, with few iterations, and the update each fuses.
FUSED: dict[str, tuple[dict[str, Any], str]] = {
    "fgsm": ({}, "sign"),
    "ifgsm": ({"iterations": 3}, "sign"),
    "pgd": ({"iterations": 3}, "sign"),
    "cw-linf": ({"iterations": 3}, "sign"),
    "mifgsm": ({"iterations": 3}, "mifgsm"),
    "step-target-class": ({}, "sign"),
    "iter-target-class": ({"iterations": 3}, "sign"),
    "mifgsm-targeted": ({"iterations": 2, "reference_schedule": False}, "mifgsm-targeted"),
}
#: Share of equal output pixels, fused vs host. Float rounding (ORT's ReduceMean vs numpy's mean, the
#: graphs' own fusions) flips a handful of signs or roundings in the first step (3 values in 10^6 for
#: the std-round update); the next steps start from those pixels and flip more. Sign updates stay
#: equal; TSAIL's round-to-±2 steps of 2α amplify it fastest (99.7 % after 2 steps, 95 % after 3).
AGREE = {"mifgsm-targeted": 0.99}


def test_which_attacks_fuse() -> None:
    for name, (params, step) in FUSED.items():
        assert build_attack(name, params, LITE0).fused_step() == step, name
    for name in ("difgsm", "tifgsm", "ensemble-eot", "cross-iterative"):
        attack = build_attack(name, {}, ("efficientnet-lite0", "efficientnet-lite1"))
        assert not isinstance(attack, IterativeAttack) or attack.fused_step() is None, name
    assert build_attack("ifgsm", {"mu": 0.5}, LITE0).fused_step() is None  # momentum on sign steps


@pytest.mark.parametrize("name", list(FUSED))
def test_fused_steps_equal_the_host_loop(name: str, sample8: Sample, monkeypatch: pytest.MonkeyPatch) -> None:
    images, _, targets = sample8
    images, targets = images[:4], targets[:4]
    params = FUSED[name][0]
    attack = build_attack(name, params, LITE0)
    calls = {"steps": 0, "logits": 0}
    steps, logits = Source.steps, Source.logits

    def counted_steps(self: Source, *args: Any, **kwargs: Any) -> Any:
        calls["steps"] += 1
        return steps(self, *args, **kwargs)

    def counted_logits(self: Source, x: Any) -> Any:
        calls["logits"] += 1
        return logits(self, x)

    monkeypatch.setattr(Source, "steps", counted_steps)
    monkeypatch.setattr(Source, "logits", counted_logits)
    fused = attack(images, eps=16, target_classes=targets, seed=3)
    assert calls["steps"] == 1
    # Labels: targets, the clean prediction before PGD's random start, else the first step's logits.
    own_from_first_step = attack.track != "targeted" and not attack.params.random_start
    assert calls["logits"] == (0 if own_from_first_step or attack.track == "targeted" else 1)
    monkeypatch.setattr(IterativeAttack, "fused_step", lambda self: None)
    host = attack(images, eps=16, target_classes=targets, seed=3)
    diff = np.abs(fused.astype(np.int16) - host.astype(np.int16))
    agree = float((diff == 0).mean())
    assert agree > AGREE.get(name, 0.999), f"{name}: {agree:.5f} of the pixels agree"
