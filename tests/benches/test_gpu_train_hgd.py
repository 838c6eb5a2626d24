"""benches/gpu/train_hgd.sh, the GPU-scale HGD v2 run, at a tiny setting on the CPU: it makes the
training set, trains (lite0 guiding on crops, deployed in front of lite2), resumes when started
again, measures the latest snapshot and the baselines on held-out images, and draws the curve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..cli.test_train_fcn import labelled_dir
from .test_gpu_train_fcn import run_script


@pytest.mark.slow
def test_the_script_trains_resumes_and_evaluates(tmp_path: Path) -> None:
    data = labelled_dir(tmp_path / "data", 4)
    run, out = tmp_path / "run", tmp_path / "out"
    env = {"DATA": str(data), "RUN": str(run), "OUT": str(out), "STEPS": "2", "BATCH": "2", "CHANNELS": "2,4"}
    env |= {"CROP": "32", "LIMIT": "2", "DRAWS": "1", "HOLDOUT": "2", "CHECKPOINT_EVERY": "1", "EVAL_N": "2"}
    first = run_script("train_hgd.sh", env)
    assert first.returncode == 0, first.stderr[-2000:]
    trained = json.loads((out / "train.json").read_text())
    assert (trained["steps"], trained["images_seen"]) == (2, 4)
    results = json.loads((out / "results.json").read_text())
    for name in ("clean", "mifgsm[lite0+lite1]@16", "ifgsm[lite0+lite1]@8"):
        for label in ("lite2", "median(lite2)", "rrp(lite2)", "hgd(lite2)"):
            assert results[f"acc/{name}/{label}"]["n"] == 2
        assert 0 <= results[f"v2/2/{name}"]["correct"] <= 2
        assert results[f"v2/2/{name}"]["images_seen"] == 4
    assert (out / "hgd_curve.png").stat().st_size > 1000
    assert "| mifgsm[lite0+lite1]@16 |" in first.stdout
    again = run_script("train_hgd.sh", {**env, "STEPS": "3"})
    assert again.returncode == 0, again.stderr[-2000:]
    assert "--resume" in again.stdout
    assert json.loads((out / "train.json").read_text())["steps"] == 3
    assert "v2/3/clean" in json.loads((out / "results.json").read_text())
