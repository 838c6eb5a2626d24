"""One MI-FGSM step (forward + input gradient + update) through advengine's compiled gradient graph vs
PyTorch eager and torch.compile (inductor) on the same weights, same thread count.

* ``lite0``: EfficientNet-Lite0, batch 16, 224×224;
* ``ensemble``: the EfficientNet-Lite0/1/2 ensemble (logit fusion, equal weights) on 299×299 inputs,
  each member behind a bilinear resize to its native size;
* ``lite0-299``: Lite0 as the attacks run it, on the 299×299 competition input behind the in-graph
  bilinear resize to 224 (and its adjoint in the gradient): against ``lite0``, the resize's cost.

advengine runs the graph with the fused MI-FGSM step through ``StepRunner`` (IO binding, x and the
momentum never leave ORT between steps), exactly as the attacks do. The peers are the project's ONNX
converted with onnx2torch (``torch_peer.py``). Each side runs in its own fresh process.

Commands (docs/benchmarks.md, "Gradient graphs"):

* one side: ``python benches/bench_gradients.py --side ort|torch|compile --model lite0|ensemble``
  (prints one JSON line: ms per image-step, wall and CPU, warm-up, peak RSS, load average);
* all sides alternated, each run only below load 1, medians:
  ``python benches/bench_gradients.py --compare --model lite0 --repeats 5``;
* the gradient check of the peers: ``pytest benches/bench_gradients.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from advengine.graph import compile_gradient_graph
from advengine.graph.cache import cached
from advengine.graph.ensemble import compile_ensemble
from advengine.graph.interpolation import bilinear_matrix
from advengine.graph.runner import StepRunner, make_session
from advengine.models import ensure_onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alternate import alternate, medians
from devdata import dev_data_dir
from torch_peer import MEMBERS, ensemble, logits_and_grad, mifgsm_update

BATCH = 16
EPS, ALPHA, MU = 16 / 255, 1.6 / 255, 1.0
Array = np.ndarray[Any, Any]


def dev_batch(size: int, n: int = BATCH, data: Path | None = None) -> Array:
    """The first ``n`` DEV images (or of ``data``) as float32 NCHW in [0, 1], bilinearly resized to
    ``size``."""
    from advengine.data import load_dataset
    from advengine.data.images import to_model_input

    x = to_model_input(load_dataset(data or dev_data_dir()).head(n).read_images())
    if size != x.shape[-1]:
        r = bilinear_matrix(x.shape[-1], size)
        x = np.ascontiguousarray(r @ x @ r.T, dtype=np.float32)
    return x


def labels(n: int = BATCH) -> Array:
    return np.arange(n, dtype=np.int64) * 37 % 1000


def members(kind: str) -> tuple[str, ...]:
    return MEMBERS[:1] if kind.startswith("lite0") else MEMBERS


def side(kind: str) -> int:
    """The input side of a kind's step graph."""
    return 224 if kind == "lite0" else 299


KINDS = ("lite0", "lite0-299", "ensemble")


def step_graph(kind: str, batch: int = BATCH) -> Path:
    """The compiled MI-FGSM graph, through the on-disk cache as the attacks use it (a warm run then
    measures stepping, not the compiler's probe run)."""
    paths = [ensure_onnx(m) for m in members(kind)]
    options = {"bench": kind, "loss": "ce", "batch": batch, "step": "mifgsm"}
    if kind == "lite0":
        graph, _ = cached(
            paths, options, lambda: compile_gradient_graph(paths[0], loss="ce", batch=batch, step="mifgsm")
        )
    else:
        graph, _ = cached(
            paths, options, lambda: compile_ensemble(paths, loss="ce", batch=batch, step="mifgsm")
        )
    return graph


class OrtStep:
    """advengine: a fused step graph iterated by StepRunner; ``step`` runs ``steps`` fused steps.
    Also the advengine side of bench_torch_models.py, with the graph of an exported model."""

    def __init__(self, graph: Path, threads: int) -> None:
        self.graph = graph
        self.runner = StepRunner(self.graph, threads=threads, providers=["CPUExecutionProvider"])
        self.x0 = dev_batch(self.runner.input_shape[-1])
        self.threads = threads

    def step(self, steps: int = 1) -> None:
        self.runner.run(self.x0, labels(), eps=EPS, alpha=ALPHA, steps=steps, mu=MU)

    def first_grad(self) -> Array:
        session = make_session(self.graph, self.threads, ["CPUExecutionProvider"])
        zeros = np.zeros_like(self.x0)
        feeds = {
            session.get_inputs()[0].name: self.x0,
            "label": labels(),
            "x0": self.x0,
            "eps": np.full(BATCH, EPS, np.float32),
            "alpha": np.full(BATCH, ALPHA, np.float32),
            "momentum": zeros,
            "mu": np.array(MU, np.float32),
        }
        grad: Array = session.run(["grad"], feeds)[0]
        return grad


class TorchStep:
    """PyTorch, eager or torch.compile: logits + autograd input gradient + the MI-FGSM update."""

    def __init__(self, kind: str, threads: int, mode: str) -> None:
        import torch

        self.torch = torch
        self.model = ensemble(members(kind), None, mode, threads)
        self.x0 = torch.from_numpy(dev_batch(side(kind)))
        self.label = torch.from_numpy(labels())

    def step(self, steps: int = 1) -> None:
        x, m = self.x0.clone(), self.torch.zeros_like(self.x0)
        for _ in range(steps):
            _, g, _ = logits_and_grad(self.model, x, self.label)
            x, m = mifgsm_update(x, self.x0, m, g, eps=EPS, alpha=ALPHA, mu=MU)

    def first_grad(self) -> Array:
        g: Array = logits_and_grad(self.model, self.x0, self.label)[1].numpy()
        return g


def make_runner(side: str, kind: str, threads: int) -> Any:
    return (
        OrtStep(step_graph(kind), threads)
        if side == "ort"
        else TorchStep(kind, threads, "eager" if side == "torch" else "compile")
    )


def compare_gradients(kind: str, threads: int = 2) -> tuple[float, float]:
    """(L2 relative difference, share of equal signs) of the ORT and PyTorch gradients. Logits agree to
    ~1e-5, but a ReLU6 pre-activation within float32 noise of 6 can take the other side of the kink in
    the other runtime; on the DEV batch that moves a few images' gradients by up to ~1 % (L2)."""
    a, b = OrtStep(step_graph(kind), threads).first_grad(), TorchStep(kind, threads, "eager").first_grad()
    return float(np.linalg.norm(a - b) / np.linalg.norm(b)), float((np.sign(a) == np.sign(b)).mean())


if "pytest" in sys.modules:
    import pytest

    @pytest.mark.parametrize("kind", ["lite0", "ensemble"])
    def test_peers_compute_the_same_gradient(kind: str) -> None:
        rel, signs = compare_gradients(kind)
        assert rel < 2e-2, f"ORT and PyTorch gradients differ (L2 rel {rel:.2e})"
        assert signs > 0.999, f"ORT and PyTorch gradient signs differ ({signs:.5f} agree)"


def peak_rss_of_this_process_mib() -> float:
    """VmHWM of this process. Not ru_maxrss: that survives fork+exec, so a child of a big pytest
    process would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # non-Linux fallback


def measure(side: str, kind: str, threads: int, rounds: int, steps: int) -> dict[str, Any]:
    """One side in this process: build, warm up (torch.compile compiles here), then ``rounds`` timed
    rounds of ``steps`` steps each; medians per image-step."""
    load_start = os.getloadavg()[0]
    t = time.perf_counter()
    runner = make_runner(side, kind, threads)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    runner.step()
    warmup_s = time.perf_counter() - t
    times, cpu = [], []
    for _ in range(rounds):
        t, c = time.perf_counter(), time.process_time()
        runner.step(steps)
        times.append((time.perf_counter() - t) / steps)
        cpu.append((time.process_time() - c) / steps)
    return {
        "side": side,
        "model": kind,
        "threads": threads,
        "ms_per_image_step": round(float(np.median(times)) * 1000 / BATCH, 2),
        "min_ms_per_image_step": round(min(times) * 1000 / BATCH, 2),
        "cpu_ms_per_image_step": round(float(np.median(cpu)) * 1000 / BATCH, 2),
        "build_s": round(build_s, 2),
        "warmup_s": round(warmup_s, 2),
        "peak_rss_mib": round(peak_rss_of_this_process_mib(), 1),
        "load_start": round(load_start, 2),
        "load_end": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description="MI-FGSM step: advengine vs PyTorch eager vs torch.compile.")
    p.add_argument("--side", choices=["ort", "torch", "compile"], help="measure one side in this process")
    p.add_argument("--compare", action="store_true", help="alternate all sides in fresh processes")
    p.add_argument("--sides", default="ort,torch,compile", help="sides for --compare")
    p.add_argument("--model", choices=KINDS, default="lite0")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per process (median)")
    p.add_argument("--steps", type=int, default=2, help="steps per timed round")
    p.add_argument("--repeats", type=int, default=3, help="processes per side for --compare")
    p.add_argument("--max-load", type=float, default=1.0, help="--compare: start a run only below this load")
    p.add_argument("--wait", type=float, default=600.0, help="--compare: seconds to wait for that load")
    args = p.parse_args()
    if args.side:
        print(json.dumps(measure(args.side, args.model, args.threads, args.rounds, args.steps)))
        return
    if not args.compare:
        p.error("give --side or --compare")
    base = [sys.executable, __file__, "--model", args.model, "--threads", str(args.threads)]
    base += ["--rounds", str(args.rounds), "--steps", str(args.steps)]
    sides = {s: (lambda r, s=s: [*base, "--side", s]) for s in args.sides.split(",")}
    runs = alternate(
        sides, args.repeats, max_load=args.max_load, wait_s=args.wait, log=lambda m: print(m, file=sys.stderr)
    )
    keys = ["ms_per_image_step", "cpu_ms_per_image_step", "warmup_s", "peak_rss_mib"]
    table = medians(runs, keys)
    ref = table.get("ort", {}).get("ms_per_image_step")
    for name, row in table.items():
        if ref and name != "ort":
            row["advengine_speedup"] = round(row["ms_per_image_step"] / ref, 2)
    print(json.dumps({"model": args.model, "threads": args.threads, "medians": table}, indent=2))


if __name__ == "__main__":
    main()
