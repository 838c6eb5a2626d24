"""The cost of ``advengine check`` as a share of the eval it checks (docs/rules.md, "Cost").

Runs the competition (the embedded default unless ``--config``) on the first ``--limit`` images in
one worker process, then ``check_run`` on it: stateless only (no team owns an attack and a defense in
the default roster), and with ``--all-pairs`` the collusion and channel probes of every pair as well.
Prints the wall times, their ratio and the load average before and after each step.

Run on a quiet machine::

    PYTHONPATH=python python benches/bench_rules.py --limit 100 --sample 100 --out /tmp/bench-rules

(the default competition in full: 100 images, one batch; minutes of CPU.) ``--limit 4 --sample 4``
checks that the script runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from advengine.competition import ProcessExecutor, load_config, run_competition
from advengine.competition.rules import CheckSettings, check_run


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=None, help="competition TOML (default: the embedded one)")
    ap.add_argument("--limit", type=int, default=20, help="images of the run")
    ap.add_argument("--sample", type=int, default=20, help="images re-run per entry")
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-rules"), help="run dir (replaced)")
    args = ap.parse_args()
    cfg = load_config(args.config).overridden(limit=args.limit)
    shutil.rmtree(args.out, ignore_errors=True)
    report: dict[str, object] = {"limit": args.limit, "sample": args.sample, "load_before_eval": _load()}
    t0 = time.perf_counter()
    ex = ProcessExecutor(1, time_limit=cfg.time_limit, plugins=cfg.plugins)
    run_competition(cfg, args.out, executor=ex)
    eval_s = time.perf_counter() - t0
    report["eval_s"] = round(eval_s, 1)
    for name, pairs in (("check", False), ("check_all_pairs", True)):
        report[f"load_before_{name}"] = _load()
        t0 = time.perf_counter()
        found = check_run(args.out, settings=CheckSettings(sample=args.sample, all_pairs=pairs))
        seconds = time.perf_counter() - t0
        report[f"{name}_s"] = round(seconds, 1)
        report[f"{name}_share_of_eval"] = round(seconds / eval_s, 2)
        report[f"{name}_findings"] = len(found.findings)
    report["load_after"] = _load()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
