"""Attack cost: the host-side I-FGSM loop (GradientModel + numpy update, what every advengine attack
runs) vs the graph's fused sign step iterated with IO binding (StepRunner), same compiled lite0
source graph on 299×299 inputs, same images, same run. Also the EOT/DI warp overhead per step.

Run: ``pytest benches/bench_attacks.py --benchmark-only``. Figures: docs/benchmarks.md, "Attacks".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from advengine.attacks import build_attack
from advengine.attacks.augment import random_affine
from advengine.attacks.sources import IMAGE_SIDE, get_source
from advengine.data import load_dataset, sample_dataset_dir
from advengine.data.images import to_model_input
from advengine.graph.cache import cached
from advengine.graph.ensemble import compile_ensemble
from advengine.graph.runner import StepRunner
from advengine.models import ensure_onnx

N = 8
ITERS = 3
EPS = 16


@pytest.fixture(scope="module")
def images() -> Any:
    return load_dataset(sample_dataset_dir()).head(N).read_images()


def test_host_loop_ifgsm(benchmark: Any, images: Any) -> None:
    attack = build_attack("ifgsm", {"iterations": ITERS}, ("efficientnet-lite0",))
    attack(images[:1], eps=EPS)  # compile + warm the session outside the timing
    out = benchmark.pedantic(lambda: attack(images, eps=EPS), rounds=2, iterations=1)
    assert int(np.abs(out.astype(int) - images).max()) <= EPS


def test_fused_step_ifgsm(benchmark: Any, images: Any) -> None:
    path = ensure_onnx("efficientnet-lite0")
    options = {"kind": "bench-fused", "batch": N, "size": IMAGE_SIDE, "step": "sign"}
    graph, _ = cached(
        [path], options, lambda: compile_ensemble([path], size=IMAGE_SIDE, loss="ce", batch=N, step="sign")
    )
    runner = StepRunner(graph)
    x0 = to_model_input(images)
    labels = get_source(("efficientnet-lite0",)).predict_idx(x0)
    runner.run(x0, labels, eps=EPS / 255, alpha=EPS / 255 / ITERS, steps=1)
    benchmark.pedantic(
        lambda: runner.run(x0, labels, eps=EPS / 255, alpha=EPS / 255 / ITERS, steps=ITERS),
        rounds=2,
        iterations=1,
    )


def test_affine_warp_and_adjoint(benchmark: Any, images: Any) -> None:
    x = to_model_input(images)
    rng = np.random.default_rng(0)

    def step() -> None:
        w = random_affine(len(x), IMAGE_SIDE, 0.02, rng)
        w.adjoint(w.apply(x), x.shape)

    benchmark.pedantic(step, rounds=3, iterations=1)
