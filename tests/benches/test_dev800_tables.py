"""benches/dev800_tables.py: the accuracy table and targeted hits of docs/dev800.md from a run's files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benches" / "dev800_tables.py"


def test_accuracy_per_eps_and_targeted_hits(tmp_path: Path) -> None:
    (tmp_path / "leaderboard.md").write_text("# Leaderboard\n")
    rows = [
        # attack, defense, image, batch, eps, label, true_label, target_class
        ("clean", "base-lite2", "a", 0, 4, 1, 1, 9),
        ("clean", "base-lite2", "b", 1, 8, 2, 3, 9),
        ("iter-target5-lite0", "base-lite2", "a", 0, 4, 9, 1, 9),
        ("iter-target5-lite0", "base-lite2", "b", 1, 8, 3, 3, 9),
    ]
    lines = ["attack,defense,image_id,batch,eps,label,true_label,target_class"]
    lines += [",".join(map(str, r)) for r in rows]
    (tmp_path / "records.csv").write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    assert "| defense | attack | ε 4 | ε 8 | all |" in out
    assert "| lite2 | clean | 100.0 | 0.0 | 50.0 |" in out
    assert "| lite2 | iter-target5 (lite0) | 0.0 | 100.0 | 50.0 |" in out
    assert "targeted hits: iter-target5-lite0 through base-lite2: 1 of 2" in out
