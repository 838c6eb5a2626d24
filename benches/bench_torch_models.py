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
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advengine.graph import compile_gradient_graph
from advengine.graph.cache import cached
from advengine.models.locations import cache_dir
from alternate import alternate, medians
from bench_gradients import ALPHA, BATCH, EPS, MU, OrtStep, dev_batch, labels, peak_rss_of_this_process_mib
from torch_peer import logits_and_grad, mifgsm_update

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


def graph_step(model: str, threads: int) -> OrtStep:
    """advengine: the fused MI-FGSM graph of the export, through the graph cache, run by StepRunner."""
    _, onnx_path = weights(model)
    options = {"bench": f"torch-{model}", "loss": "ce", "batch": BATCH, "step": "mifgsm"}
    graph, _ = cached(
        [onnx_path],
        options,
        lambda: compile_gradient_graph(onnx_path, loss="ce", batch=BATCH, step="mifgsm"),
    )
    return OrtStep(graph, threads)


class EagerStep:
    """PyTorch eager: the original module with the same state dict, autograd, the same MI-FGSM update."""

    def __init__(self, model: str, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        pt, _ = weights(model)
        self.net = build(model)
        self.net.load_state_dict(torch.load(pt, weights_only=True))
        self.net.eval()
        self.x0 = torch.from_numpy(dev_batch(SIZE))
        self.label = torch.from_numpy(labels())
        self.x, self.m = self.x0.clone(), torch.zeros_like(self.x0)

    def step(self) -> None:
        _, g, _ = logits_and_grad(self.net, self.x, self.label)
        self.x, self.m = mifgsm_update(self.x, self.x0, self.m, g, eps=EPS, alpha=ALPHA, mu=MU)

    def first_grad(self) -> Any:
        return logits_and_grad(self.net, self.x0, self.label)[1].numpy()


def one_side(side: str, model: str, threads: int, steps: int) -> dict[str, Any]:
    runner: Any = graph_step(model, threads) if side == "ort" else EagerStep(model, threads)
    runner.step()  # warm-up: first-run allocations, MLAS packing
    times, cpu = [], []
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        runner.step()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {
        "wall_ms_per_step": round(statistics.median(times) * 1000, 1),
        "cpu_ms_per_step": round(statistics.median(cpu) * 1000, 1),
        "peak_rss_mib": round(peak_rss_of_this_process_mib(), 1),
    }


def drive(models: list[str], rounds: int, steps: int, threads: int, max_load: float) -> dict[str, Any]:
    results: dict[str, Any] = {"threads": threads, "batch": BATCH}
    for model in models:
        weights(model)  # export once, outside any timing
        base = [sys.executable, __file__, "--model", model, "--steps", str(steps), "--threads", str(threads)]
        sides = {s: (lambda r, s=s, base=base: [*base, "--side", s]) for s in ("ort", "torch")}
        runs = alternate(sides, rounds, max_load=max_load, log=lambda m: print(m, file=sys.stderr))
        table = medians(runs, ["wall_ms_per_step", "cpu_ms_per_step", "peak_rss_mib"])
        for key in ("wall_ms_per_step", "cpu_ms_per_step"):
            table[f"speedup_{key}"] = round(table["torch"][key] / table["ort"][key], 2)
        a, b = graph_step(model, threads).first_grad(), EagerStep(model, threads).first_grad()
        table["gradient_l2_rel"] = float(np.linalg.norm(a - b) / np.linalg.norm(b))
        results[model] = table
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--side", choices=["ort", "torch"])
    p.add_argument("--model", choices=MODELS)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, for the driver")
    p.add_argument("--rounds", type=int, default=5, help="alternated process pairs per model")
    p.add_argument("--steps", type=int, default=3, help="timed steps per process (after one warm-up)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-load", type=float, default=1.0, help="start a run only below this load")
    args = p.parse_args()
    if args.side:
        if not args.model:
            p.error("--side needs --model")
        print(json.dumps(one_side(args.side, args.model, args.threads, args.steps)))
        return
    print(
        json.dumps(
            drive(args.models.split(","), args.rounds, args.steps, args.threads, args.max_load), indent=2
        )
    )


if __name__ == "__main__":
    main()
