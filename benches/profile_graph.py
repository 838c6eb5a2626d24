"""Where a gradient step's time goes: the ORT profile of the compiled MI-FGSM graph (the same cached
graph and session options as ``bench_gradients.py``) and its FLOPs.

Command: ``python benches/profile_graph.py --model lite0|ensemble [--batch 16] [--threads 2]``. Prints

* the node count per op type of the graph as ORT optimises it (``optimized_model_filepath``; layout
  reorders show up here), which does not depend on the machine's load;
* ORT's profile of one run after a warm-up (``SessionOptions.enable_profiling``): kernel time per op
  type and its share, and the Conv/Mul time split into the model's forward, the VJP and the
  activation masks (by node name);
* the FLOPs: 2 per multiply-add of every Conv, ConvTranspose, Gemm and MatMul, from onnx shape
  inference on the graph's fixed shapes, and the FLOP/s of the profiled run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import shape_inference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advengine.graph.runner import make_session
from bench_gradients import ALPHA, EPS, KINDS, MU, labels, step_graph


def part(name: str) -> str:
    """Which part of the compiled graph a node belongs to, by the compiler's naming."""
    if "mask" in name:
        return "mask"
    return "vjp" if name.startswith("grad/") else "forward"


def flops(graph: Path) -> dict[str, float]:
    m = shape_inference.infer_shapes(onnx.load(str(graph)))
    shape = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in m.graph.value_info}
    for vi in [*m.graph.input, *m.graph.output]:
        shape[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    shape.update({i.name: list(i.dims) for i in m.graph.initializer})
    total: collections.Counter[str] = collections.Counter()
    for n in m.graph.node:
        if n.op_type == "Conv":
            total[part(n.output[0])] += 2 * np.prod(shape[n.output[0]]) * np.prod(shape[n.input[1]][1:])
        elif n.op_type == "ConvTranspose":
            total["vjp"] += 2 * np.prod(shape[n.input[0]]) * np.prod(shape[n.input[1]][1:])
        elif n.op_type in ("Gemm", "MatMul"):
            trans_a = any(a.name == "transA" and a.i for a in n.attribute)
            k = shape[n.input[0]][0 if trans_a else -1]
            total[part(n.output[0])] += 2 * np.prod(shape[n.output[0]]) * k
    return {k: float(v) for k, v in total.items()}


def feeds(session: Any, size: int, batch: int) -> dict[str, Any]:
    x = np.random.default_rng(0).random((batch, 3, size, size), dtype=np.float32)
    return {
        session.get_inputs()[0].name: x,
        "label": labels(batch),
        "x0": x,
        "eps": np.full(batch, EPS, np.float32),
        "alpha": np.full(batch, ALPHA, np.float32),
        "momentum": np.zeros_like(x),
        "mu": np.array(MU, np.float32),
    }


def profile(graph: Path, threads: int, batch: int) -> dict[str, Any]:
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        optimised = Path(tmp) / "optimised.onnx"
        opts = make_session(graph, threads, ["CPUExecutionProvider"]).get_session_options()
        # A session loaded from ORT's optimised file in the cache runs with optimisation off
        # (models/optimized.py); this profile optimises the compiled graph itself.
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.optimized_model_filepath = str(optimised)
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
        counts = collections.Counter(n.op_type for n in onnx.load(str(optimised)).graph.node)
        feed = feeds(session, int(session.get_inputs()[0].shape[-1]), batch)
        session.run(["x_next"], feed)  # warm-up
        t = time.perf_counter()
        session.run(["x_next"], feed)
        wall = time.perf_counter() - t
        events = json.loads(Path(session.end_profiling()).read_text())
    last = [e for e in events if e.get("name") == "model_run"][-1]
    by_op: collections.Counter[str] = collections.Counter()
    by_part: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= last["ts"]:
            op = e["args"]["op_name"]
            by_op[op] += e["dur"]
            by_part[f"{op}/{part(e['name'])}"] += e["dur"]
    total = sum(by_op.values())
    return {
        "wall_ms": round(wall * 1000, 1),
        "nodes": sum(counts.values()),
        "node_counts": dict(counts.most_common()),
        "share_pct": {op: round(100 * d / total, 1) for op, d in by_op.most_common()},
        "ms_by_op_and_part": {k: round(d / 1000, 1) for k, d in by_part.most_common(12)},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=KINDS, default="lite0")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    graph = step_graph(args.model, args.batch)
    report = {"model": args.model, "batch": args.batch, "load": os.getloadavg()[0]}
    report.update(profile(graph, args.threads, args.batch))
    f = flops(graph)
    report["gflop_per_image_step"] = {k: round(v / args.batch / 1e9, 3) for k, v in f.items()}
    useful = f.get("forward", 0.0) + f.get("vjp", 0.0)
    report["gflop_per_s"] = round(useful / (report["wall_ms"] / 1000) / 1e9, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
