"""``advengine train attack-fcn`` through main(): a tiny run on tiny models trains, refuses to
overwrite, resumes and exports (--json). Bad flags, a missing run and Ctrl-C are tested for every
``train`` command in test_train.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from advengine.cli import main
from advengine.kernels.codec import write_png_batch

from ..training.conftest import GUIDE, guide_env  # noqa: F401  (the fixture)
from .test_train import Capsys, one_line_error, train_resume_and_refuse


def labelled_dir(path: Path, n: int) -> Path:
    """``n`` random 299-pixel PNGs (a dataset's side) in images/ with a dev_dataset.csv of true labels;
    the FCN works at 299 and the tiny models read it through their own resize."""
    (path / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 299, 299, 3), dtype=np.uint8)
    ids = [f"{i:016x}" for i in range(n)]
    write_png_batch(images, [path / "images" / f"{i}.png" for i in ids])
    head = "ImageId,URL,x1,y1,x2,y2,TrueLabel,TargetClass,OriginalLandingURL,License,Author,AuthorProfileURL"
    rows = [f"{i},u,0,0,1,1,{1 + 7 * k},{2 + 7 * k},u,l,a,p" for k, i in enumerate(ids)]
    (path / "dev_dataset.csv").write_text("\n".join([head, *rows]) + "\n")
    return path


def test_a_holdout_that_leaves_nothing_is_one_line(tmp_path: Path, capsys: Capsys) -> None:
    data = labelled_dir(tmp_path / "data", 3)
    assert main(["train", "attack-fcn", "--data", str(data), "--out", str(tmp_path / "run")]) == 1
    assert "none left to train on after holding out 200" in one_line_error(capsys)


@pytest.mark.usefixtures("guide_env")
def test_a_tiny_run_trains_resumes_and_exports(tmp_path: Path, capsys: Capsys) -> None:
    data = labelled_dir(tmp_path / "data", 6)
    out = tmp_path / "run"
    common = ["train", "attack-fcn", "--data", str(data), "--out", str(out), "--models", GUIDE]
    common += ["--hint-model", GUIDE, "--holdout", "2", "--channels", "2,4", "--batch-size", "2"]
    common += ["--checkpoint-every", "1", "--shift", "2", "--json"]
    done = train_resume_and_refuse(capsys, common)
    manifest = json.loads(Path(done["manifest"]).read_text())
    assert manifest["hint_model"] == GUIDE
    assert manifest["images_seen"] == 6
    assert (out / manifest["file"]).is_file()


@pytest.mark.usefixtures("guide_env")
def test_progress_off_a_terminal_is_one_line_per_checkpoint(tmp_path: Path, capsys: Capsys) -> None:
    data = labelled_dir(tmp_path / "data", 4)
    args = ["train", "attack-fcn", "--data", str(data), "--out", str(tmp_path / "run"), "--models", GUIDE]
    args += ["--hint-model", GUIDE, "--holdout", "2", "--channels", "2,4", "--batch-size", "2"]
    assert main([*args, "--checkpoint-every", "2", "--shift", "0", "--steps", "4"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("attack-fcn: step")]
    assert [line.split(" · ")[0] for line in lines] == [
        "attack-fcn: step 2/4",
        "attack-fcn: step 4/4",
    ]
    assert all("img/s" in line for line in lines)
    assert "attack-fcn: 4 steps, last loss" in captured.out
