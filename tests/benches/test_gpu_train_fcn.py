"""benches/gpu/train_fcn.sh, the GPU-scale attack-FCN run, at a tiny setting on the CPU: it trains,
resumes when started again, evaluates the latest snapshot and MI-FGSM on held-out images, and writes
the figures and the curve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..cli.test_train_fcn import labelled_dir
from ..conftest import REPO
from ..training.conftest import GUIDE, guide_env  # noqa: F401  (the fixture)


def run_script(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """benches/gpu/NAME with this Python, ``env`` over the test's environment, a 300 s training limit."""
    full = {**os.environ, "PYTHON": sys.executable, "LIMIT_S": "300", **env}
    script = REPO / "benches" / "gpu" / name
    return subprocess.run(["bash", str(script)], env=full, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.usefixtures("guide_env")
def test_the_script_trains_resumes_and_evaluates(tmp_path: Path) -> None:
    data = labelled_dir(tmp_path / "data", 6)
    run, out = tmp_path / "run", tmp_path / "out"
    env = {"DATA": str(data), "RUN": str(run), "OUT": str(out), "STEPS": "2", "BATCH": "2", "CHANNELS": "2,4"}
    env |= {"HOLDOUT": "2", "MODELS": GUIDE, "HINT_MODEL": GUIDE, "CHECKPOINT_EVERY": "1", "EVAL_N": "2"}
    first = run_script("train_fcn.sh", env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads((out / "train.json").read_text())["steps"] == 2
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"fcn/0", "fcn/2", "mifgsm[lite0+lite1]@16"}
    for entry in results.values():
        assert entry["n"] == 2
        assert 0 <= entry["misclassified"] <= 2
        assert entry["linf"] <= 16
    assert (out / "fcn_curve.png").stat().st_size > 1000
    assert "| fcn step 2 | 4 |" in first.stdout
    again = run_script("train_fcn.sh", {**env, "STEPS": "3", "MIFGSM": "0"})
    assert again.returncode == 0, again.stderr[-2000:]
    assert "--resume" in again.stdout
    assert json.loads((out / "train.json").read_text())["steps"] == 3
    assert "fcn/3" in json.loads((out / "results.json").read_text())
