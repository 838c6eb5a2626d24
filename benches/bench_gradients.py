"""One MI-FGSM step (forward + input gradient + update) through the compiled gradient graph vs PyTorch
eager on the same weights, same run, same thread count.

* EfficientNet-Lite0, batch 16, 224×224;
* the 3-model EfficientNet-Lite0/1/2 ensemble (logit fusion, equal weights) on 299×299 inputs, each
  member behind a bilinear resize to its native size.

Run: ``pytest benches/bench_gradients.py --benchmark-only`` (PyTorch comes from the ``bench`` extra).
The PyTorch peer is our ONNX converted with onnx2torch and run eagerly (autograd for the gradient,
torch ops for the update), so both sides run the same weights and arithmetic; the gradients of both
sides are compared once, outside the timing. Peak RSS is measured per side in a fresh process:
``python benches/bench_gradients.py --side ort|torch --model lite0|ensemble``.
Figures go in docs/benchmarks.md, "Gradient graphs".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from advengine.graph import compile_gradient_graph
from advengine.graph.cache import cached
from advengine.graph.ensemble import compile_ensemble
from advengine.graph.interpolation import bilinear_matrix
from advengine.models import ensure_onnx

BATCH = 16
THREADS = 2
EPS, ALPHA, MU = 16 / 255, 1.6 / 255, 1.0
MEMBERS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
Array = np.ndarray[Any, Any]


def dev_batch(size: int) -> Array:
    """The first 16 DEV images as float32 NCHW in [0, 1], bilinearly resized to ``size``."""
    from advengine.data import load_dataset
    from advengine.data.images import to_model_input

    here = Path(__file__).resolve().parent.parent
    data = os.environ.get("ADVENGINE_DEV_DATA") or here.parent / "shared" / "data" / "nips17_dev"
    x = to_model_input(load_dataset(data).head(BATCH).read_images())
    if size != x.shape[-1]:
        r = bilinear_matrix(x.shape[-1], size)
        x = np.ascontiguousarray(r @ x @ r.T, dtype=np.float32)
    return x


def labels() -> Array:
    return np.arange(BATCH, dtype=np.int64) * 37 % 1000


class OrtStep:
    """The fused MI-FGSM graph run with IO binding (x and momentum ping-pong, no host copies)."""

    def __init__(self, kind: str) -> None:
        # Through the on-disk cache, as `advengine graph compile` does: a warm run then measures the
        # stepping alone, not the compiler's probe run (which holds every activation once).
        paths = [ensure_onnx(m) for m in (MEMBERS[:1] if kind == "lite0" else MEMBERS)]
        options = {"bench": kind, "loss": "ce", "batch": BATCH, "step": "mifgsm"}
        if kind == "lite0":
            graph, _ = cached(
                paths,
                options,
                lambda: compile_gradient_graph(paths[0], loss="ce", batch=BATCH, step="mifgsm"),
            )
            size = 224
        else:
            graph, _ = cached(
                paths, options, lambda: compile_ensemble(paths, loss="ce", batch=BATCH, step="mifgsm")
            )
            size = 299
        self.bind(graph, dev_batch(size))

    def bind(self, graph: Path, x0: Array) -> None:
        """A session of the fused step graph with its IO bindings ping-ponging x and the momentum."""
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = THREADS
        opts.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
        self.x0 = x0
        name = self.sess.get_inputs()[0].name
        v = ort.OrtValue.ortvalue_from_numpy
        self.buf = {
            "xa": v(self.x0.copy()),
            "xb": v(self.x0.copy()),
            "x0": v(self.x0),
            "label": v(labels()),
            "eps": v(np.full(BATCH, EPS, np.float32)),
            "alpha": v(np.full(BATCH, ALPHA, np.float32)),
            "ma": v(np.zeros_like(self.x0)),
            "mb": v(np.zeros_like(self.x0)),
            "mu": v(np.array(MU, np.float32)),
            "grad": v(np.zeros_like(self.x0)),
        }
        self.io = []
        for a, b in (("a", "b"), ("b", "a")):
            io = self.sess.io_binding()
            io.bind_ortvalue_input(name, self.buf["x" + a])
            io.bind_ortvalue_input("momentum", self.buf["m" + a])
            for k in ("x0", "label", "eps", "alpha", "mu"):
                io.bind_ortvalue_input(k, self.buf[k])
            io.bind_ortvalue_output("x_next", self.buf["x" + b])
            io.bind_ortvalue_output("m_next", self.buf["m" + b])
            io.bind_ortvalue_output("grad", self.buf["grad"])
            io.bind_output("logits", "cpu")
            io.bind_output("loss", "cpu")
            self.io.append(io)
        self.i = 0

    def step(self) -> None:
        self.sess.run_with_iobinding(self.io[self.i % 2])
        self.i += 1

    def first_grad(self) -> Array:
        io = self.io[0]
        self.buf["xa"].update_inplace(self.x0)
        self.sess.run_with_iobinding(io)
        return np.array(self.buf["grad"].numpy())


class TorchStep:
    """PyTorch eager: onnx2torch modules on the same ONNX weights, autograd, MI-FGSM in torch ops."""

    def __init__(self, kind: str) -> None:
        import onnx
        import torch
        from onnx2torch import convert

        torch.set_num_threads(THREADS)
        self.torch = torch
        names = MEMBERS[:1] if kind == "lite0" else MEMBERS
        self.models = [convert(onnx.load(str(ensure_onnx(n)))).eval() for n in names]
        self.sizes = [224, 240, 260][: len(names)]
        size = 224 if kind == "lite0" else 299
        self.x0 = torch.from_numpy(dev_batch(size))
        self.x = self.x0.clone()
        self.m = torch.zeros_like(self.x0)
        self.label = torch.from_numpy(labels())

    def grad(self, x: Any) -> Any:
        torch = self.torch
        x = x.detach().requires_grad_(True)
        logits = 0
        for model, s in zip(self.models, self.sizes, strict=True):
            xi = (
                x
                if x.shape[-1] == s
                else torch.nn.functional.interpolate(
                    x, size=(s, s), mode="bilinear", align_corners=False, antialias=False
                )
            )
            logits = logits + model(xi) / len(self.models)
        loss = torch.nn.functional.cross_entropy(logits, self.label, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
        return g

    def step(self) -> None:
        torch = self.torch
        g = self.grad(self.x)
        with torch.no_grad():
            mean_abs = g.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-30)
            self.m = MU * self.m + g / mean_abs
            x = self.x + ALPHA * torch.sign(self.m)
            self.x = torch.clamp(torch.minimum(torch.maximum(x, self.x0 - EPS), self.x0 + EPS), 0.0, 1.0)

    def first_grad(self) -> Array:
        return self.grad(self.x0).numpy()


def peak_rss(side: str, kind: str, steps: int = 3) -> dict[str, float]:
    """Peak RSS and ms per image-step of one side, measured in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--side", side, "--model", kind, "--steps", str(steps)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _bench(benchmark: Any, runner: Any, kind: str, side: str) -> None:
    benchmark.extra_info.update({"threads": THREADS, "batch": BATCH})
    runner.step()  # warm-up (first-run allocations, MLAS packing)
    benchmark.pedantic(runner.step, rounds=3, iterations=1)
    benchmark.extra_info["ms_per_image_step"] = benchmark.stats.stats.median * 1000 / BATCH
    benchmark.extra_info.update(peak_rss(side, kind))


def _compare(kind: str) -> None:
    """Both sides must compute the same gradient. Logits agree to ~1e-5, but a ReLU6 pre-activation
    within float32 noise of 6 can take the other side of the kink in the other runtime; on the DEV
    batch that moves a few images' gradients by up to ~1% (L2), so signs and the batch L2 are compared."""
    a, b = OrtStep(kind).first_grad(), TorchStep(kind).first_grad()
    rel = float(np.linalg.norm(a - b) / np.linalg.norm(b))
    signs = float((np.sign(a) == np.sign(b)).mean())
    assert rel < 2e-2, f"ORT and PyTorch gradients differ (L2 rel {rel:.2e})"
    assert signs > 0.999, f"ORT and PyTorch gradient signs differ ({signs:.5f} agree)"


if "pytest" in sys.modules:
    import pytest

    @pytest.mark.parametrize("kind", ["lite0", "ensemble"])
    def test_peers_compute_the_same_gradient(kind: str) -> None:
        _compare(kind)

    @pytest.mark.benchmark(group="MI-FGSM step, EfficientNet-Lite0, batch 16, 224², 2 threads")
    def test_lite0_ort(benchmark: Any) -> None:
        _bench(benchmark, OrtStep("lite0"), "lite0", "ort")

    @pytest.mark.benchmark(group="MI-FGSM step, EfficientNet-Lite0, batch 16, 224², 2 threads")
    def test_lite0_torch(benchmark: Any) -> None:
        _bench(benchmark, TorchStep("lite0"), "lite0", "torch")

    @pytest.mark.benchmark(group="MI-FGSM step, 3-model ensemble, batch 16, 299², 2 threads")
    def test_ensemble_ort(benchmark: Any) -> None:
        _bench(benchmark, OrtStep("ensemble"), "ensemble", "ort")

    @pytest.mark.benchmark(group="MI-FGSM step, 3-model ensemble, batch 16, 299², 2 threads")
    def test_ensemble_torch(benchmark: Any) -> None:
        _bench(benchmark, TorchStep("ensemble"), "ensemble", "torch")


def peak_rss_of_this_process_mib() -> float:
    """VmHWM of this process. Not ru_maxrss: that survives fork+exec, so a child of a big pytest
    process would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # non-Linux fallback


def time_steps(runner: Any, steps: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (all threads of this process) of ``steps`` steps after one warm-up step."""
    runner.step()
    times, cpu = [], []
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        runner.step()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return times, cpu


def main() -> None:
    p = argparse.ArgumentParser(description="One side of the MI-FGSM step benchmark, in its own process.")
    p.add_argument("--side", choices=["ort", "torch"], required=True)
    p.add_argument("--model", choices=["lite0", "ensemble"], required=True)
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    runner: Any = OrtStep(args.model) if args.side == "ort" else TorchStep(args.model)
    times, cpu = time_steps(runner, args.steps)
    rss_mib = peak_rss_of_this_process_mib()
    # CPU time (all threads) per image-step beside wall time: the shared 2-core machine is often loaded
    # by other jobs, which inflates wall time far more than CPU time.
    result = {
        "peak_rss_mib": round(rss_mib, 1),
        "subprocess_ms_per_image_step": round(float(np.median(times)) * 1000 / BATCH, 2),
        "subprocess_cpu_ms_per_image_step": round(float(np.median(cpu)) * 1000 / BATCH, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
