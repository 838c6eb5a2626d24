"""Where the benchmarks find the 800-image DEV set: ADVENGINE_DEV_DATA, else ``shared/data/nips17_dev``
beside the checkout or beside any folder above it (a git worktree lives deeper than the main checkout)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def dev_data_dir() -> Path:
    env = os.environ.get("ADVENGINE_DEV_DATA")
    if env:
        return Path(env)
    for parent in REPO.parents:
        d = parent / "shared" / "data" / "nips17_dev"
        if (d / "dev_dataset.csv").is_file():
            return d
    return REPO.parent / "shared" / "data" / "nips17_dev"
