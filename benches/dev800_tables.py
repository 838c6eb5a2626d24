"""The tables of docs/dev800.md from a run's own files: the leaderboard (leaderboard.md, with the
median time per 100 images) and the top-1 accuracy of each defense per ε from records.csv, plus the
targeted attacks' hits. ``python benches/dev800_tables.py RUN_DIR`` prints Markdown."""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

#: records.csv names → the doc's row labels.
DEFENSES = {
    "base-lite2": "lite2",
    "jpeg75-lite1": "jpeg75 → lite1",
    "median2-lite0": "median2 → lite0",
    "bitdepth5-lite0": "bitdepth5 → lite0",
}
ATTACKS = {
    "clean": "clean",
    "random-noise": "random-noise",
    "fgsm-lite0": "fgsm (lite0)",
    "ifgsm5-lite0": "ifgsm5 (lite0)",
    "step-target-lite0": "step-target (lite0)",
    "iter-target5-lite0": "iter-target5 (lite0)",
}


def main(run: Path) -> None:
    right: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    hits: dict[tuple[str, str], int] = defaultdict(int)
    eps_values: set[str] = set()
    with (run / "records.csv").open() as fh:
        for r in csv.DictReader(fh):
            eps_values.add(r["eps"])
            for eps in (r["eps"], "all"):
                cell = right[(r["defense"], r["attack"], eps)]
                cell[0] += r["label"] == r["true_label"]
                cell[1] += 1
            if r["attack"] in ("step-target-lite0", "iter-target5-lite0"):
                hits[(r["defense"], r["attack"])] += r["label"] == r["target_class"]
    cols = [*sorted(eps_values, key=float), "all"]
    print((run / "leaderboard.md").read_text())
    print("| defense | attack | " + " | ".join(f"ε {c}" if c != "all" else c for c in cols) + " |")
    print("|---|---|" + "---:|" * len(cols))
    for d, dl in DEFENSES.items():
        for a, al in ATTACKS.items():
            if (d, a, "all") not in right:
                continue  # not in this run's roster
            cells = [right[(d, a, c)] for c in cols]
            print(
                f"| {dl} | {al} | " + " | ".join(f"{100 * k / n:.1f}" if n else "—" for k, n in cells) + " |"
            )
    print()
    for (d, a), k in sorted(hits.items()):
        print(f"targeted hits: {a} through {d}: {k} of {right[(d, a, 'all')][1]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
