"""The package layers of docs/architecture.md hold (import-linter contracts in pyproject.toml), also
when only pytest runs (``make lint`` runs ``lint-imports`` too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    tool = Path(sys.executable).parent / "lint-imports"
    assert tool.is_file(), f"{tool} missing: install the dev extra (pip install -e '.[dev]')"
    env = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    done = subprocess.run(
        [str(tool), "--no-cache"], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout
