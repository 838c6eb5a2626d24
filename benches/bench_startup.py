"""Start-up of the ``advengine`` process, wall clock, each run a fresh process (issue 25):

* ``advengine --version`` and ``advengine --help`` until exit;
* ``advengine attack mifgsm`` (Lite0, ε = 16) until it starts its first attack step: the first
  ``run_with_iobinding`` of the fused step graph, timed from the process's creation (interpreter start
  included), with the compiled graph already in the cache (a warm-up run
  first, not counted).

``python benches/bench_startup.py --repeats 5`` prints one JSON line per measure: the runs, their
median and the load average before each run (runs wait for load < 1 unless ``--no-wait``).
Targets (docs/benchmarks.md): --version and --help ≤ 0.3 s, first step ≤ 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devdata import dev_data_dir

#: Runs the CLI and exits at the first attack step, printing the seconds since the process was made.
FIRST_STEP = """
import os, sys, time
import psutil
import onnxruntime as ort

start = psutil.Process().create_time()

def first_step(self, *args, **kwargs):
    print(f"FIRST_STEP {time.time() - start:.4f}", flush=True)
    os._exit(0)

ort.InferenceSession.run_with_iobinding = first_step
from advengine.cli import main
sys.exit(main(sys.argv[1:]))
"""


def wait_for_quiet(limit: float, wait: bool) -> float:
    load = os.getloadavg()[0]
    while wait and load >= limit:
        time.sleep(5)
        load = os.getloadavg()[0]
    return load


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def first_step(cmd: list[str]) -> float:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("FIRST_STEP "):
            return float(line.split()[1])
    raise SystemExit(f"the attack never reached a step: {proc.stderr[-1000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--images", type=int, default=25, help="images the attack is given")
    ap.add_argument("--no-wait", action="store_true", help="do not wait for load < 1 before each run")
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "adv"
        attack = [
            "attack",
            "mifgsm",
            "--data",
            str(dev_data_dir()),
            "--out",
            str(out),
            "--models",
            "efficientnet-lite0",
            "--eps",
            "16",
            "--param",
            "iterations=1",
            "--limit",
            str(args.images),
        ]
        measures = {
            "version": lambda: timed([py, "-m", "advengine", "--version"]),
            "help": lambda: timed([py, "-m", "advengine", "--help"]),
            "attack_first_step": lambda: first_step([py, "-c", FIRST_STEP, *attack]),
        }
        subprocess.run([py, "-m", "advengine", *attack], check=True, capture_output=True)  # warm the caches
        for name, run in measures.items():
            runs, loads = [], []
            for _ in range(args.repeats):
                shutil.rmtree(out, ignore_errors=True)
                loads.append(round(wait_for_quiet(1.0, not args.no_wait), 2))
                runs.append(round(run(), 3))
            row = {"measure": name, "median_s": statistics.median(runs), "runs_s": runs, "load": loads}
            print(json.dumps(row))


if __name__ == "__main__":
    main()
