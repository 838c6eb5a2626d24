"""What verifying a run's stored pieces costs (issue 29): the HMAC of every record, the hash of every
stored PNG and every image's ε-ball, over a run of the shape of docs/dev800.md (800 DEV images,
batches of 25, six attacks, four defenses on the clean images and every attack).

The run is made with cheap entries (``random-noise`` under six labels, the tests' ``fake-constant``
defense under four), so only the stored pieces matter: their number, their PNGs, their records. Then
the verification is timed alone: one pass (what ``eval`` does before scoring), and a whole
``--resume`` of the finished run (a pass when the jobs are listed and the pass before scoring).

    python benches/bench_verify_records.py --data ../shared/data/nips17_dev --work /tmp/verify800

On a quiet machine; ``--limit 50`` for a quick check of the script. The share of the eval time is
against --eval-seconds (777 s: the 800-image DEV run of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the fake defense lives in the tests package

from advengine.competition import Competition, parse_config  # noqa: E402

ATTACKS = 6
DEFENSES = 4


def _config(data: Path, limit: int | None, batch_size: int) -> dict[str, Any]:
    return {
        "plugins": ["tests.competition.fakes"],
        "batch_size": batch_size,
        "time_limit": 500.0,
        "dataset": {"dir": str(data), **({"limit": limit} if limit else {})},
        "attacks": [{"name": "random-noise", "label": f"noise{k}"} for k in range(ATTACKS)],
        "defenses": [{"name": "fake-constant", "label": f"const{k}"} for k in range(DEFENSES)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="NIPS17 dataset dir (800 DEV images)")
    parser.add_argument("--work", type=Path, required=True, help="scratch dir for the run (replaced)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--eval-seconds", type=float, default=777.0, help="the eval time to compare with")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="time the finished run already in --work")
    args = parser.parse_args()

    out = args.work / "run"
    if not (args.reuse and (out / "results.json").is_file()):
        shutil.rmtree(args.work, ignore_errors=True)
    os.environ.setdefault("ADVENGINE_CONFIG", str(args.work / "config"))  # the run key stays in the scratch
    cfg = parse_config(_config(args.data.resolve(), args.limit, args.batch_size), source="bench")
    t0 = time.perf_counter()
    first = Competition(cfg, out).run(resume=args.reuse)
    made = time.perf_counter() - t0
    passes, resumes = [], []
    for _ in range(args.repeats):
        comp = Competition(cfg, out)
        comp._prepare(resume=True)  # the run dir opened and its key checked, as --resume does
        try:
            t0 = time.perf_counter()
            failed = comp._verify_stored()
            passes.append(time.perf_counter() - t0)
        finally:
            comp.run_dir.unlock()
        assert failed == 0
        resumed = Competition(cfg, out).run(resume=True)
        resumes.append(resumed.timings["verify"])
    images = first.dataset.images
    report = {
        "images": images,
        "batches": len(first.batches),
        "attack_pieces": ATTACKS * len(first.batches),
        "defense_pieces": DEFENSES * (ATTACKS + 1) * len(first.batches),
        "stored_pngs": ATTACKS * images,
        "run_seconds": round(made, 1),
        "fresh_run_verify_seconds": round(first.timings["verify"], 2),
        "one_pass_seconds": [round(x, 2) for x in passes],
        "resume_verify_seconds": [round(x, 2) for x in resumes],
        "one_pass_share_of_eval": round(min(passes) / args.eval_seconds, 4),
        "resume_share_of_eval": round(min(resumes) / args.eval_seconds, 4),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
