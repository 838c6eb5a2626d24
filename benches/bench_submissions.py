"""Submissions: wall time of one 100-image batch through the noop sample submission, in the
bubblewrap sandbox and unconfined (the peer: what the sandbox itself costs), plus bwrap's start alone.

Run: ``pytest benches/bench_submissions.py --benchmark-only``. Figures go in docs/benchmarks.md,
"Submissions".
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from advengine.data import load_dataset, sample_dataset_dir
from advengine.submissions import Limits, Settings, load_submission, run_attack
from advengine.submissions.sandbox import bwrap_command, prepare_mounts

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "submissions" / "samples" / "noop_attack"


@pytest.fixture(scope="module")
def batch() -> npt.NDArray[np.uint8]:
    return load_dataset(sample_dataset_dir()).read_images(0, 100)


@pytest.mark.parametrize("sandbox", ["bwrap", "unsafe-none"])
def test_noop_batch_of_100(
    benchmark: Any, batch: npt.NDArray[np.uint8], sandbox: str, tmp_path: Path
) -> None:
    sub = load_submission(SAMPLE, tmp_path / "w")
    settings = Settings(sandbox, Limits(), 120.0, 5.0)
    outputs, run = benchmark.pedantic(
        run_attack, args=(sub, batch, 16, None, settings), rounds=5, iterations=1, warmup_rounds=1
    )
    assert run.status == "ok"
    assert all(o is not None for o in outputs)


def test_bwrap_start_only(benchmark: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        mounts = prepare_mounts(Path(tmp), "/output_images")
        cmd = bwrap_command(mounts, ["/bin/true"], Limits(), as_root=False, uid=0)
        benchmark.pedantic(
            subprocess.run, args=(cmd.argv,), kwargs={"check": True, "env": cmd.env}, rounds=10, iterations=1
        )
