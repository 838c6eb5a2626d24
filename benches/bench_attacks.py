"""Attack cost: I-FGSM as the attacks run it (every step fused into the lite0 source graph at 299×299,
StepRunner with IO binding, labels from the first step) vs the host-side loop it replaced
(GradientModel + numpy update, plus a forward pass for the own-prediction labels), same images, same
run. Also the EOT/DI warp overhead per step (what keeps DI/EOT attacks on the host loop).

Run: ``pytest benches/bench_attacks.py --benchmark-only``. Figures: docs/benchmarks.md, "Attacks".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from advengine.attacks import build_attack
from advengine.attacks.augment import random_affine
from advengine.attacks.gradient import IterativeAttack
from advengine.attacks.sources import IMAGE_SIDE
from advengine.data import load_dataset, sample_dataset_dir
from advengine.data.images import to_model_input

N = 8
ITERS = 3
EPS = 16


@pytest.fixture(scope="module")
def images() -> Any:
    return load_dataset(sample_dataset_dir()).head(N).read_images()


def _bench_ifgsm(benchmark: Any, images: Any) -> None:
    attack = build_attack("ifgsm", {"iterations": ITERS}, ("efficientnet-lite0",))
    attack(images, eps=EPS)  # compile + warm the sessions outside the timing
    out = benchmark.pedantic(lambda: attack(images, eps=EPS), rounds=2, iterations=1)
    assert int(np.abs(out.astype(int) - images).max()) <= EPS


def test_fused_ifgsm(benchmark: Any, images: Any) -> None:
    _bench_ifgsm(benchmark, images)


def test_host_loop_ifgsm(benchmark: Any, images: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IterativeAttack, "fused_step", lambda self: None)
    _bench_ifgsm(benchmark, images)


def test_affine_warp_and_adjoint(benchmark: Any, images: Any) -> None:
    x = to_model_input(images)
    rng = np.random.default_rng(0)

    def step() -> None:
        w = random_affine(len(x), IMAGE_SIDE, 0.02, rng)
        w.adjoint(w.apply(x), x.shape)

    benchmark.pedantic(step, rounds=3, iterations=1)
