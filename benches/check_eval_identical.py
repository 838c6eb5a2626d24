"""The "must not change" check of refactors: ``advengine eval`` on the embedded sample gives the same
results.json and records.csv before and after, timings aside.

Usage::

    python benches/check_eval_identical.py run OUT [--limit N] [eval flags...]   # one run into OUT
    python benches/check_eval_identical.py compare RUN_A RUN_B                  # exit 1 on a difference

Run ``run`` from the checkout before the change (keep its OUT), then from the checkout after it, then
``compare`` the two. Only fields that measure time are ignored (``timings``, every
``median_batch_seconds``), and the embedded sample's directory, which names the checkout it ran from.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Keys whose values are wall-clock measurements, so differ between any two runs.
TIMING_KEYS = frozenset({"timings", "median_batch_seconds", "seconds"})
COMPARED = ("results.json", "records.csv")
SAMPLE_SUFFIX = "advengine/data/sample"


def _drop_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_drop_timings(v) for v in value]
    return value


def normalised(run_dir: Path, name: str) -> Any:
    """The file ``name`` of ``run_dir`` with its timing fields removed."""
    path = run_dir / name
    if not name.endswith(".json"):
        return path.read_text(encoding="utf-8")
    data = _drop_timings(json.loads(path.read_text(encoding="utf-8")))
    if data["dataset"]["dir"].endswith(SAMPLE_SUFFIX):
        data["dataset"]["dir"] = SAMPLE_SUFFIX  # the same images, in whichever checkout ran
    return data


def differences(a: Path, b: Path) -> list[str]:
    """One line per compared file that differs between run dirs ``a`` and ``b`` (empty: identical)."""
    out = []
    for name in COMPARED:
        left, right = normalised(a, name), normalised(b, name)
        if left != right:
            out.append(f"{name} differs between {a} and {b}")
            if isinstance(left, dict) and isinstance(right, dict):
                keys = sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))
                out.append(f"  differing top-level keys: {keys}")
    return out


def run(out: Path, extra: list[str]) -> None:
    cmd = [sys.executable, "-m", "advengine", "eval", "--out", str(out), *extra]
    print("running:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="advengine eval --out OUT [flags]")
    p_run.add_argument("out", type=Path)
    p_cmp = sub.add_parser("compare", help="compare two run dirs, timings aside")
    p_cmp.add_argument("a", type=Path)
    p_cmp.add_argument("b", type=Path)
    args, extra = parser.parse_known_args(argv)
    if args.cmd == "run":
        run(args.out, extra)
        return 0
    found = differences(args.a, args.b)
    for line in found:
        print(line)
    if not found:
        print(f"identical (timings aside): {', '.join(COMPARED)} of {args.a} and {args.b}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
