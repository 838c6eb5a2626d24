"""The MI-FGSM step at batch 100 on one GPU: advengine's fused graph on ONNX Runtime's CUDA EP through
``StepRunner`` (IO binding: x, x0 and the momentum stay on the device), with and without CUDA graphs,
against PyTorch eager and torch.compile (inductor) on the same GPU and weights (``torch_peer.py``).

Cases: ``lite0`` (EfficientNet-Lite0, 224²) and ``ensemble`` (Lite0/1/2, 299², each member behind its
bilinear resize). Inputs: the 100 sample images embedded in advengine. Per-step times exclude the
host↔device copies of a call: advengine's is (T(1 + S steps) − T(1 step)) / S of ``StepRunner.run``,
PyTorch's the synchronised time of S steps / S, each the median of 3 repeats after a warm-up (for
torch.compile the warm-up is the compilation, reported apart). Called by ``benches/gpu/run.sh``; prints
one JSON line per case and side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from advengine.data import sample_dataset_dir
from bench_gradients import ALPHA, EPS, MU, dev_batch, labels, members, step_graph
from torch_peer import ensemble, logits_and_grad, mifgsm_update

BATCH = 100
STEPS = 10
REPEATS = 3


def ort_side(kind: str, cuda_graph: bool) -> dict[str, Any]:
    from advengine.graph.runner import StepRunner

    t = time.perf_counter()
    runner = StepRunner(
        step_graph(kind, BATCH),
        providers=["CUDAExecutionProvider", "CPUExecutionProvider"],
        cuda_graph=cuda_graph,
    )
    if runner.device != "cuda":
        raise RuntimeError("ONNX Runtime fell back to the CPU: the CUDA EP did not load")
    x0 = dev_batch(runner.input_shape[-1], BATCH, sample_dataset_dir())
    y = labels(BATCH)
    kw = {"eps": EPS, "alpha": ALPHA, "mu": MU}
    runner.run(x0, y, steps=3, **kw)  # warm-up; with CUDA graphs this captures both graphs
    setup_s = time.perf_counter() - t

    def timed(steps: int) -> float:
        t0 = time.perf_counter()
        runner.run(x0, y, steps=steps, **kw)
        return time.perf_counter() - t0

    per_step = [(timed(1 + STEPS) - timed(1)) / STEPS for _ in range(REPEATS)]
    return {"setup_s": round(setup_s, 2), "ms_per_step": round(statistics.median(per_step) * 1000, 2)}


def torch_side(kind: str, mode: str) -> dict[str, Any]:
    import torch

    model = ensemble(members(kind), None, mode, threads=16, device="cuda")
    x0 = torch.from_numpy(dev_batch(224 if kind == "lite0" else 299, BATCH, sample_dataset_dir())).cuda()
    y = torch.from_numpy(labels(BATCH)).cuda()

    def run(steps: int) -> float:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        x, m = x0.clone(), torch.zeros_like(x0)
        for _ in range(steps):
            _, g, _ = logits_and_grad(model, x, y)
            x, m = mifgsm_update(x, x0, m, g, eps=EPS, alpha=ALPHA, mu=MU)
        torch.cuda.synchronize()
        return time.perf_counter() - t0

    warmup_s = run(2)
    per_step = [run(STEPS) / STEPS for _ in range(REPEATS)]
    return {"setup_s": round(warmup_s, 2), "ms_per_step": round(statistics.median(per_step) * 1000, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["lite0", "ensemble"], required=True)
    p.add_argument("--side", choices=["ort", "ort-cudagraph", "eager", "compile"], required=True)
    args = p.parse_args()
    row: dict[str, Any] = {"model": args.model, "side": args.side, "batch": BATCH}
    try:
        if args.side.startswith("ort"):
            row.update(ort_side(args.model, cuda_graph=args.side == "ort-cudagraph"))
        else:
            row.update(torch_side(args.model, args.side))
        row["images_per_s"] = round(BATCH * 1000 / row["ms_per_step"], 1)
    except Exception as exc:  # report the failure as a table row: the other cases still run
        row["error"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
