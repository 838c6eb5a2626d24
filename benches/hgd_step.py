"""The cost of one HGD training step (docs/hgd.md, "HGD v2"): the compiled LGD graph (DUNET → guide →
l1 head, the DUNET's parameter gradients) plus the guide's forward on the clean crops and Adam, on
random images, for each (guide, crop, channels, batch) asked. The threads are ONNX Runtime's
(ADVENGINE_NUM_THREADS); pin the process (taskset) to measure one core.

    ADVENGINE_NUM_THREADS=1 taskset -c 1 python benches/hgd_step.py \\
        --case efficientnet-lite2,260,8-16-32-64 --case efficientnet-lite0,224,8-16-32-64 \\
        --case efficientnet-lite0,128,8-16-32-64 --case efficientnet-lite0,128,16-32-64-128 --batch-size 8

One JSON line per case: graph build seconds, median seconds per step over --steps steps after one
warm-up step, images per second, the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from advengine.models.dunet import DunetConfig, init_params
from advengine.training import train_settings
from advengine.training.adam import Adam
from advengine.training.guide import GuideLogits
from advengine.training.trainer import lgd_step, training_graph
from devdata import dev_data_dir


def one_case(guide: str, crop: int, channels: tuple[int, ...], batch: int, steps: int) -> dict[str, object]:
    settings = train_settings(
        {
            "data": str(dev_data_dir()),
            "target": guide,
            "deploy": "efficientnet-lite2",
            "crop": crop,
            "channels": channels,
            "batch_size": batch,
        }
    )
    config = DunetConfig(crop, channels)
    t = time.perf_counter()
    adam = Adam(init_params(config, 0), settings.lr)
    step = lgd_step(training_graph(settings, config, None), adam.params, batch, crop, None)
    logits = GuideLogits(guide, crop, None)
    built = time.perf_counter() - t
    rng = np.random.default_rng(0)
    times = []
    for _ in range(steps + 1):
        x = rng.random((batch, 3, crop, crop), dtype=np.float32)
        t = time.perf_counter()
        step.run({"input": x, "target": logits(x)})
        adam.step(step.grads)
        times.append(time.perf_counter() - t)
    per_step = statistics.median(times[1:])
    return {
        "guide": guide,
        "crop": crop,
        "channels": "-".join(map(str, channels)),
        "batch_size": batch,
        "build_s": round(built, 2),
        "s_per_step": round(per_step, 3),
        "images_per_s": round(batch / per_step, 2),
        "threads": os.environ.get("ADVENGINE_NUM_THREADS", "default"),
        "load": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", action="append", required=True, help="GUIDE,CROP,CHANNELS (channels a-b-c-d).")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3, help="Timed steps per case (after one warm-up).")
    args = ap.parse_args()
    for case in args.case:
        guide, crop, channels = case.split(",")
        row = one_case(
            guide, int(crop), tuple(int(c) for c in channels.split("-")), args.batch_size, args.steps
        )
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
