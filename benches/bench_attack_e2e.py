"""A whole attack as a user runs it: ``advengine attack mifgsm`` (10 iterations, ε = 16, the default
Lite0/1/2 ensemble with TSAIL's logit weights, batches of 25) on 100 DEV images as a process, against a
PyTorch script doing the same work on the same weights (the project's ONNX via onnx2torch), eager and
torch.compile. Both sides read the PNGs, take the labels from the first step's logits, run MI-FGSM
(m ← μm + g/mean|g|, x ← clip(proj(x + α·sign(m))), α = ε/10, μ = 1), round to uint8 within ε and write
PNGs (advengine: its Rust codec; PyTorch: Pillow's defaults).

Commands (docs/benchmarks.md, "Whole attack"):

* ``python benches/bench_attack_e2e.py --compare --repeats 3``: the sides alternated as fresh
  processes, each run started only below load 1; prints per-side medians of the process wall time,
  and how far the two sides' adversarial images are apart (same algorithm and weights: they should
  agree up to float rounding near kinks);
* ``python benches/bench_attack_e2e.py --matrix --repeats 3``: the three settings of issue 25 in turn,
  each a ``--compare``: the Lite0 source on 48 and on 100 images and the Lite0/1/2 ensemble on 100
  (``--scenarios`` picks some). Each row adds the share of the 2-core FP32 peak the process reached
  (``--peak-gflops``), counting 2× the forward FLOPs per image-step (forward + input gradient);
* ``python benches/bench_attack_e2e.py --run torch|compile --data DIR --out DIR``: the PyTorch side
  alone (prints one JSON line: model load, attack and warm-up times).

The compile side's warm-up (one forward + backward per batch shape the run will see: 25 and the
remainder, since torch.compile specialises on shapes) is timed apart as ``warmup_s``;
``wall_less_warmup_s`` is the process wall time without it, the figure compared against advengine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advengine.attacks.gradient import TSAIL_WEIGHTS
from alternate import alternate, medians
from devdata import dev_data_dir
from torch_peer import MEMBERS, ensemble, logits_and_grad, mifgsm_update

IMAGES = 100
EPS_PX = 16
ITERATIONS = 10
BATCH = 25
#: The settings of issue 25: (source models, images).
SCENARIOS: dict[str, tuple[tuple[str, ...], int]] = {
    "lite0-48": (("efficientnet-lite0",), 48),
    "lite0-100": (("efficientnet-lite0",), 100),
    "ensemble-100": (MEMBERS, 100),
}
#: FP32 peak of the 2-core benchmark machine in GFLOP/s, the yardstick of the peak share: Zen 4 issues
#: two 256-bit FMAs per cycle, 32 FLOP per cycle per core, × 2 cores × 2.6 GHz (docs/benchmarks.md,
#: "FLOPs and the roofline"). Give --peak-gflops on another machine.
PEAK_GFLOPS = 166.0


def forward_gflops(model: str) -> float:
    """GFLOP of one image's forward pass of a zoo model at its native size: 2 × the multiply-adds of its
    Conv, Gemm and MatMul nodes (the rest is small), from ONNX shape inference at batch 1."""
    import onnx
    from onnx import numpy_helper, shape_inference

    from advengine.models import ensure_onnx

    m = onnx.load(str(ensure_onnx(model)))
    dim = m.graph.input[0].type.tensor_type.shape.dim
    dim[0].Clear()
    dim[0].dim_value = 1
    m = shape_inference.infer_shapes(m)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in [*m.graph.value_info, *m.graph.output, *m.graph.input]
    }
    shapes.update({t.name: list(numpy_helper.to_array(t).shape) for t in m.graph.initializer})
    macs = 0
    for node in m.graph.node:
        out = shapes.get(node.output[0])
        if not out:
            continue
        if node.op_type == "Conv":
            w = shapes[node.input[1]]
            macs += int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes.get(node.input[0]) or [0]
            macs += int(np.prod(out)) * a[-1]
    return 2 * macs / 1e9


def peak_share(models: tuple[str, ...], images: int, iterations: int, wall_s: float, peak: float) -> float:
    """Share of the FP32 peak: images × iterations × 2 × forward GFLOP (forward + input gradient, the
    gradient about the forward's cost) over the wall time."""
    work = images * iterations * sum(2 * forward_gflops(m) for m in models)
    return work / (wall_s * peak)


def stage_images(root: Path, n: int) -> Path:
    """The first ``n`` DEV images (dataset order) copied into ``root/data`` as a dir of PNGs."""
    from advengine.data import load_dataset

    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    for p in load_dataset(dev_data_dir()).head(n).image_paths:
        shutil.copy(p, data / Path(p).name)
    return data


def torch_attack(
    data: Path,
    out: Path,
    mode: str,
    threads: int,
    iterations: int,
    models: tuple[str, ...] = MEMBERS,
    device: str = "cpu",
) -> dict[str, Any]:
    import torch
    from PIL import Image

    t0 = time.perf_counter()
    weights = [TSAIL_WEIGHTS[m] for m in models] if len(models) > 1 else None
    model = ensemble(models, weights, mode, threads, device)
    load_s = time.perf_counter() - t0
    eps, out_paths = EPS_PX / 255.0, sorted(data.glob("*.png"))
    out.mkdir(parents=True, exist_ok=True)
    warmup_s = 0.0
    if mode == "compile":
        # torch.compile compiles on the first call of each input shape: every batch shape the run will
        # see (25 and the remainder) is compiled here, and timed apart, so the attack is warm.
        t = time.perf_counter()
        for rows in sorted({min(BATCH, len(out_paths) - s) for s in range(0, len(out_paths), BATCH)}):
            logits_and_grad(model, torch.rand(rows, 3, 299, 299, device=device), None)
        if device != "cpu":
            torch.cuda.synchronize()
        warmup_s = time.perf_counter() - t
    batch_s = []
    for start in range(0, len(out_paths), BATCH):
        t = time.perf_counter()
        paths = out_paths[start : start + BATCH]
        clean = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
        x0 = torch.from_numpy(clean).to(device).permute(0, 3, 1, 2).contiguous().float() / 255.0
        x, m, labels = x0.clone(), torch.zeros_like(x0), None
        for _ in range(iterations):
            _, g, labels = logits_and_grad(model, x, labels)
            x, m = mifgsm_update(x, x0, m, g, eps=eps, alpha=eps / iterations, mu=1.0)
        adv = torch.round(x.clamp(0, 1) * 255).to(torch.int16).permute(0, 2, 3, 1).cpu().numpy()
        adv = np.clip(adv, clean.astype(np.int16) - EPS_PX, clean.astype(np.int16) + EPS_PX)
        for p, img in zip(paths, np.clip(adv, 0, 255).astype(np.uint8), strict=True):
            Image.fromarray(img).save(out / p.name)
        batch_s.append(time.perf_counter() - t)
    return {
        "side": mode,
        "images": len(out_paths),
        "model_load_s": round(load_s, 2),
        "warmup_s": round(warmup_s, 2),
        "first_batch_s": round(batch_s[0], 2),
        "later_batches_s": round(sum(batch_s[1:]), 2),
        "attack_s": round(sum(batch_s), 2),
    }


def image_distance(a: Path, b: Path) -> dict[str, float]:
    """Share of equal pixel values and mean |difference| of two sides' adversarial PNGs."""
    from advengine.kernels import read_png_batch

    names = sorted(p.name for p in a.glob("*.png"))
    x = read_png_batch([a / n for n in names]).astype(np.int16)
    y = read_png_batch([b / n for n in names]).astype(np.int16)
    equal, diff = float((x == y).mean()), float(np.abs(x - y).mean())
    return {"equal_share": round(equal, 4), "mean_abs_diff": round(diff, 3)}


def compare(
    args: argparse.Namespace, models: tuple[str, ...] = MEMBERS, images: int = IMAGES
) -> dict[str, Any]:
    root = Path(args.workdir or tempfile.mkdtemp(prefix="advengine-e2e-"))
    data = stage_images(root, images)
    threads = str(args.threads)
    names = ",".join(models)

    def cmd(side: str) -> Any:
        def make(r: int) -> list[str]:
            out = root / side / str(r)
            if side == "advengine":
                base = [sys.executable, "-m", "advengine", "attack", "mifgsm", "--data", str(data)]
                params = ["--eps", str(EPS_PX), "--param", f"iterations={args.iterations}", "--json"]
                return [*base, "--out", str(out), "--models", names, *params]
            script = [sys.executable, __file__, "--run", side, "--threads", threads]
            script += ["--iterations", str(args.iterations), "--models", names]
            return [*script, "--data", str(data), "--out", str(out)]

        return make

    os.environ.setdefault("ADVENGINE_NUM_THREADS", threads)
    sides = {s: cmd(s) for s in args.sides.split(",")}
    runs = alternate(
        sides, args.repeats, max_load=args.max_load, wait_s=args.wait, log=lambda m: print(m, file=sys.stderr)
    )
    for side_runs in runs.values():
        for r in side_runs:
            r["wall_less_warmup_s"] = round(r["process_wall_s"] - float(r.get("warmup_s", 0.0)), 3)
    keys = ["process_wall_s", "wall_less_warmup_s", "warmup_s", "attack_s", "model_load_s", "first_batch_s"]
    table = medians(runs, keys)
    ref = table.get("advengine", {}).get("process_wall_s")
    for name, row in table.items():
        if ref and name != "advengine":
            row["advengine_speedup"] = round(row["wall_less_warmup_s"] / ref, 2)
        wall = row["wall_less_warmup_s"]
        row["peak_share"] = round(peak_share(models, images, args.iterations, wall, args.peak_gflops), 3)
    agreement = {
        s: image_distance(root / "advengine" / "0", root / s / "0")
        for s in sides
        if s != "advengine" and "advengine" in sides
    }
    return {
        "models": list(models),
        "images": images,
        "medians": table,
        "vs_advengine": agreement,
        "workdir": str(root),
    }


def main() -> None:
    p = argparse.ArgumentParser(description="Whole MI-FGSM attack: advengine CLI vs a PyTorch script.")
    p.add_argument("--run", choices=["torch", "compile"], help="run the PyTorch side once in this process")
    p.add_argument("--data", type=Path, help="--run: dir of PNGs")
    p.add_argument("--out", type=Path, help="--run: output dir")
    p.add_argument("--compare", action="store_true", help="alternate the sides as fresh processes")
    p.add_argument("--matrix", action="store_true", help="--compare on each of --scenarios in turn")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"of {', '.join(SCENARIOS)}")
    p.add_argument("--models", default=",".join(MEMBERS), help="source models (--compare and --run)")
    p.add_argument("--peak-gflops", type=float, default=PEAK_GFLOPS, help="FP32 peak of the machine")
    p.add_argument("--device", default="cpu", help="--run: the PyTorch side's device (cuda on a GPU)")
    p.add_argument("--sides", default="advengine,torch,compile")
    p.add_argument("--images", type=int, default=IMAGES)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iterations", type=int, default=ITERATIONS, help="fewer to check the sides' agreement")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-load", type=float, default=1.0, help="start a run only below this load average")
    p.add_argument("--wait", type=float, default=900.0, help="seconds to wait for that load")
    p.add_argument("--workdir", help="where the staged images and outputs go (default: a new temp dir)")
    args = p.parse_args()
    if args.run:
        if args.data is None or args.out is None:
            p.error("--run needs --data and --out")
        mode = "eager" if args.run == "torch" else "compile"
        models = tuple(args.models.split(","))
        result = torch_attack(args.data, args.out, mode, args.threads, args.iterations, models, args.device)
        print(json.dumps(result))
    elif args.matrix:
        for name in args.scenarios.split(","):
            if name not in SCENARIOS:
                p.error(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
            models, images = SCENARIOS[name]
            args.workdir = None  # each scenario stages its own images
            print(json.dumps({"scenario": name, **compare(args, models, images)}, indent=2), flush=True)
    elif args.compare:
        print(json.dumps(compare(args, tuple(args.models.split(",")), args.images), indent=2))
    else:
        p.error("give --run or --compare")


if __name__ == "__main__":
    main()
