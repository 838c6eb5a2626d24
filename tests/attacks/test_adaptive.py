"""Adaptive PGD against the zoo's pipeline defenses, white-box on lite0 with few images: BPDA through
the median filter and EOT over random resize + pad bring the defenses down where the images fool them."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.attacks import build_attack
from advengine.attacks.adaptive import PipelineAttack, pipeline_spec, spec_params
from advengine.defenses import Defense, build_defense

U8 = npt.NDArray[np.uint8]
Sample = tuple[U8, npt.NDArray[np.int64], npt.NDArray[np.int64]]
LITE0 = ("efficientnet-lite0",)


def aimed_at(defense: str, attack: str, **params: object) -> tuple[PipelineAttack, Defense[Any]]:
    d = build_defense(defense, {}, LITE0)
    spec = d.spec()
    assert spec is not None
    a = build_attack(attack, {**spec_params(spec), **params}, LITE0)
    assert isinstance(a, PipelineAttack)
    assert a.spec() == spec
    return a, d


def test_spec_params_round_trip() -> None:
    for name in ("median", "jpeg", "bit-depth", "random-resize-pad", "classifier"):
        spec = build_defense(name, {}, LITE0).spec()
        assert spec is not None
        a = build_attack("eot-pgd", spec_params(spec), LITE0)
        assert isinstance(a, PipelineAttack)
        assert pipeline_spec(LITE0, a.params) == spec


def test_bpda_pgd_breaks_median(sample8: Sample) -> None:
    images, labels = sample8[0][:4], sample8[1][:4]
    attack, defense = aimed_at("median", "bpda-pgd", iterations=5)
    adv = attack(images, eps=16, seed=0)
    assert int(np.abs(adv.astype(np.int16) - images).max()) <= 16
    assert int((defense(adv, seed=1) == labels).sum()) == 0


def test_eot_pgd_breaks_random_resize_pad(sample8: Sample) -> None:
    images, labels = sample8[0][:4], sample8[1][:4]
    attack, _ = aimed_at("random-resize-pad", "eot-pgd", iterations=5, draws=2)
    adv = attack(images, eps=16, seed=0)
    assert int(np.abs(adv.astype(np.int16) - images).max()) <= 16
    defense = build_defense("random-resize-pad", {"draws": 6}, LITE0)
    assert int((defense(adv, seed=1) == labels).sum()) <= 1


def test_pipelines_run_the_loop_on_the_host() -> None:
    # A fused step would run the models' graph without the transforms: only plain models fuse.
    assert (
        build_attack("bpda-pgd", {"transforms": "median:2", "random_start": False}, LITE0).fused_step()
        is None
    )
    assert (
        build_attack("eot-pgd", {"resize_pad_draws": 30, "random_start": False}, LITE0).fused_step() is None
    )
    assert build_attack("bpda-pgd", {"random_start": False}, LITE0).fused_step() == "sign"
