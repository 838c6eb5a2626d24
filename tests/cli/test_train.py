"""``advengine train hgd`` through main(): bad input is one line and a non-zero exit; a tiny run on
a tiny guide trains, checkpoints, resumes and exports (--json)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from advengine.cli import main

from ..training.conftest import GUIDE, guide_env  # noqa: F401  (the fixture)
from ..training.test_trainset import image_dir, sources  # noqa: F401  (the fixture)

Capsys = pytest.CaptureFixture[str]


def one_line_error(capsys: Capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:"), err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("command", "flags", "match"),
    [
        (
            "hgd",
            ["--target", "efficientnet-lite0"],
            "the guide efficientnet-lite0 is one of the training attacks' sources",
        ),
        ("hgd", ["--channels", "16,abc"], "train hgd: channels[1] must be an integer"),
        ("hgd", ["--target", "nope"], "unknown model 'nope'"),
        ("hgd", ["--deploy", "efficientnet-lite1"], "the deployed classifier efficientnet-lite1 is one"),
        ("attack-fcn", ["--models", "nope"], "unknown source model 'nope'"),
        ("attack-fcn", ["--hint-model", "nope"], "unknown model 'nope'"),
        ("attack-fcn", ["--channels", "8,x"], "train attack-fcn: channels[1] must be an integer"),
        ("attack-fcn", ["--lr", "0"], "train attack-fcn: lr"),
    ],
)
def test_bad_flags_are_one_line(
    tmp_path: Path, capsys: Capsys, command: str, flags: list[str], match: str
) -> None:
    assert main(["train", command, "--data", str(tmp_path), "--out", str(tmp_path / "run"), *flags]) == 1
    assert match in one_line_error(capsys)


@pytest.mark.parametrize("command", ["hgd", "attack-fcn"])
def test_resume_without_a_run_is_one_line(tmp_path: Path, capsys: Capsys, command: str) -> None:
    args = ["train", command, "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--resume"]
    assert main(args) == 1
    assert "no checkpoint at" in one_line_error(capsys)


def train_resume_and_refuse(capsys: Capsys, common: list[str]) -> dict[str, Any]:
    """Train ``common`` for 2 steps, see a second run over it refused, resume to 3; the last --json."""
    assert main([*common, "--steps", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    assert main([*common, "--steps", "3"]) == 1
    assert "pass --resume" in one_line_error(capsys)
    assert main([*common, "--steps", "3", "--resume"]) == 0
    done: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert done["steps"] == 3
    return done


def test_a_tiny_run_trains_resumes_and_exports(
    tmp_path: Path,
    capsys: Capsys,
    sources: tuple[str, str],  # noqa: F811
) -> None:
    data = image_dir(tmp_path / "data", 4)
    out = tmp_path / "run"
    common = ["train", "hgd", "--data", str(data), "--out", str(out), "--target", GUIDE]
    common += ["--holdout", "2", "--channels", "2,4", "--batch-size", "2", "--checkpoint-every", "1"]
    common += ["--sources", sources[0], "--attacks", "fgsm", "--epsilons", "8", "--draws", "1"]
    common += ["--shift", "2", "--json"]
    done = train_resume_and_refuse(capsys, common)
    assert Path(done["model"]) == out / f"{GUIDE}-hgd.onnx"
    assert done["images_seen"] == 6
    assert json.loads(Path(done["manifest"]).read_text())["source"]["classifier"] == GUIDE


@pytest.mark.parametrize(
    ("command", "module", "function"),
    [("hgd", "train", "train_hgd"), ("attack-fcn", "train_fcn", "train_attack_fcn")],
)
def test_ctrl_c_keeps_the_checkpoint_and_says_how_to_resume(
    tmp_path: Path,
    capsys: Capsys,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    module: str,
    function: str,
) -> None:
    cli = importlib.import_module(f"advengine.cli.{module}")
    out = tmp_path / "run"

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, function, interrupted)
    argv = ["train", command, "--data", str(tmp_path), "--out", str(out)]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert f"interrupted; no checkpoint yet in {out}" in err
    assert f"resume with `advengine {' '.join(argv)} --resume`" in err
