"""One MI-FGSM step at batch 16 on 224² inputs for a ResNet-50 (torchvision) and a ViT-S/16 (timm):
advengine's compiled gradient graph (step fused in, IO binding) vs PyTorch eager on the same weights.

Each side runs in its own fresh process; the driver alternates them (ort, torch, ort, torch, ...) so
that a change in machine load hits both, and reports medians over rounds of each side's median step.
No hub is reachable, so the weights are random (seed 0) with BatchNorm statistics calibrated on random
images; they are written once to ``$ADVENGINE_CACHE/bench-torch/`` as a state dict (PyTorch side) and
its ONNX export (advengine side, compiled through the graph cache), so both sides run the same weights.

Run:  ``python benches/bench_torch_models.py --rounds 5 --steps 3``  (figures: docs/benchmarks.md)
One side alone: ``python benches/bench_torch_models.py --side ort|torch --model resnet50|vit_s16``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advengine.graph import compile_gradient_graph
from advengine.graph.cache import cached
from advengine.models.locations import cache_dir
from bench_gradients import (
    ALPHA,
    BATCH,
    EPS,
    MU,
    THREADS,
    OrtStep,
    dev_batch,
    labels,
    peak_rss_of_this_process_mib,
    time_steps,
)

SIZE = 224
MODELS = ("resnet50", "vit_s16")


def build(model: str) -> Any:
    import timm
    import torchvision

    if model == "resnet50":
        return torchvision.models.resnet50()
    return timm.create_model("vit_small_patch16_224", pretrained=False)


def weights(model: str) -> tuple[Path, Path]:
    """(state dict, ONNX export) of the seeded, BN-calibrated model; made on first use."""
    import torch

    d = cache_dir() / "bench-torch"
    pt, onnx_path = d / f"{model}.pt", d / f"{model}.onnx"
    if pt.is_file() and onnx_path.is_file():
        return pt, onnx_path
    d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    net = build(model)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.rand(8, 3, SIZE, SIZE))
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (torch.rand(1, 3, SIZE, SIZE),),
            str(onnx_path),
            dynamo=False,
            opset_version=18,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        )
    torch.save(net.state_dict(), pt)
    return pt, onnx_path


class GraphStep(OrtStep):
    """The fused MI-FGSM graph of an exported PyTorch model, through the on-disk graph cache."""

    def __init__(self, model: str) -> None:
        _, onnx_path = weights(model)
        options = {"bench": f"torch-{model}", "loss": "ce", "batch": BATCH, "step": "mifgsm"}
        graph, _ = cached(
            [onnx_path],
            options,
            lambda: compile_gradient_graph(onnx_path, loss="ce", batch=BATCH, step="mifgsm"),
        )
        self.bind(graph, dev_batch(SIZE))


class EagerStep:
    """PyTorch eager: the original module with the same state dict, autograd, MI-FGSM in torch ops."""

    def __init__(self, model: str) -> None:
        import torch

        torch.set_num_threads(THREADS)
        pt, _ = weights(model)
        self.torch = torch
        self.net = build(model)
        self.net.load_state_dict(torch.load(pt, weights_only=True))
        self.net.eval()
        self.x0 = torch.from_numpy(dev_batch(SIZE))
        self.x = self.x0.clone()
        self.m = torch.zeros_like(self.x0)
        self.label = torch.from_numpy(labels())

    def grad(self, x: Any) -> Any:
        x = x.detach().requires_grad_(True)
        loss = self.torch.nn.functional.cross_entropy(self.net(x), self.label, reduction="sum")
        (g,) = self.torch.autograd.grad(loss, x)
        return g

    def step(self) -> None:
        torch = self.torch
        g = self.grad(self.x)
        with torch.no_grad():
            self.m = MU * self.m + g / g.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-30)
            x = self.x + ALPHA * torch.sign(self.m)
            self.x = torch.clamp(torch.minimum(torch.maximum(x, self.x0 - EPS), self.x0 + EPS), 0.0, 1.0)

    def first_grad(self) -> Any:
        return self.grad(self.x0).numpy()


def one_side(side: str, model: str, steps: int) -> dict[str, float]:
    runner: Any = GraphStep(model) if side == "ort" else EagerStep(model)
    times, cpu = time_steps(runner, steps)
    return {
        "wall_ms_per_step": round(statistics.median(times) * 1000, 1),
        "cpu_ms_per_step": round(statistics.median(cpu) * 1000, 1),
        "peak_rss_mib": round(peak_rss_of_this_process_mib(), 1),
    }


def compare(model: str) -> float:
    """L2 distance of the two sides' first gradients, relative (checked once, outside the timing)."""
    a, b = GraphStep(model).first_grad(), EagerStep(model).first_grad()
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def drive(models: list[str], rounds: int, steps: int) -> dict[str, Any]:
    results: dict[str, Any] = {"load_average": os.getloadavg(), "threads": THREADS, "batch": BATCH}
    for model in models:
        weights(model)  # export once, outside any timing
        runs: dict[str, list[dict[str, float]]] = {"ort": [], "torch": []}
        for _ in range(rounds):
            for side in ("ort", "torch"):
                proc = subprocess.run(
                    [sys.executable, __file__, "--side", side, "--model", model, "--steps", str(steps)],
                    check=False,
                    capture_output=True,
                    text=True,
                )
                if proc.returncode != 0:
                    raise SystemExit(f"{side} side of {model} failed:\n{proc.stderr[-3000:]}")
                runs[side].append(json.loads(proc.stdout.strip().splitlines()[-1]))
        summary = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for side, rs in runs.items()}
        summary["speedup_wall"] = summary["torch"]["wall_ms_per_step"] / summary["ort"]["wall_ms_per_step"]
        summary["speedup_cpu"] = summary["torch"]["cpu_ms_per_step"] / summary["ort"]["cpu_ms_per_step"]
        summary["gradient_l2_rel"] = compare(model)
        results[model] = summary
    results["load_average_after"] = os.getloadavg()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--side", choices=["ort", "torch"])
    p.add_argument("--model", choices=MODELS)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, for the driver")
    p.add_argument("--rounds", type=int, default=5, help="alternated process pairs per model")
    p.add_argument("--steps", type=int, default=3, help="timed steps per process (after one warm-up)")
    args = p.parse_args()
    if args.side:
        if not args.model:
            p.error("--side needs --model")
        print(json.dumps(one_side(args.side, args.model, args.steps)))
        return
    print(json.dumps(drive(args.models.split(","), args.rounds, args.steps), indent=2))


if __name__ == "__main__":
    main()
