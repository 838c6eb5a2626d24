"""``advengine train hgd`` through main(): bad input is one line and a non-zero exit; a tiny run on
a tiny guide trains, checkpoints, resumes and exports (--json)."""

from __future__ import annotations

import json
from pathlib import Path

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
    ("flags", "match"),
    [
        (
            ["--target", "efficientnet-lite0"],
            "the guide efficientnet-lite0 is one of the training attacks' sources",
        ),
        (["--channels", "16,abc"], "train hgd: channels[1] must be an integer"),
        (["--target", "nope"], "unknown model 'nope'"),
    ],
)
def test_bad_flags_are_one_line(tmp_path: Path, capsys: Capsys, flags: list[str], match: str) -> None:
    assert main(["train", "hgd", "--data", str(tmp_path), "--out", str(tmp_path / "run"), *flags]) == 1
    assert match in one_line_error(capsys)


def test_resume_without_a_run_is_one_line(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["train", "hgd", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--resume"]) == 1
    assert "no checkpoint at" in one_line_error(capsys)


def test_a_tiny_run_trains_resumes_and_exports(
    tmp_path: Path,
    capsys: Capsys,
    sources: tuple[str, str],  # noqa: F811
) -> None:
    data = image_dir(tmp_path / "data", 4)
    out = tmp_path / "run"
    common = ["train", "hgd", "--data", str(data), "--out", str(out), "--target", GUIDE]
    common += [
        "--holdout",
        "2",
        "--channels",
        "2,4",
        "--batch-size",
        "2",
        "--checkpoint-every",
        "1",
        "--json",
    ]
    common += [
        "--sources",
        sources[0],
        "--attacks",
        "fgsm",
        "--epsilons",
        "8",
        "--draws",
        "1",
        "--shift",
        "2",
    ]
    assert main([*common, "--steps", "2"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["steps"] == 2
    assert main([*common, "--steps", "3"]) == 1
    assert "pass --resume" in one_line_error(capsys)
    assert main([*common, "--steps", "3", "--resume"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["steps"] == 3
    assert Path(done["denoiser"]) == out / f"{GUIDE}-hgd.onnx"
    assert json.loads(Path(done["manifest"]).read_text())["source"]["classifier"] == GUIDE


def test_ctrl_c_keeps_the_checkpoint_and_says_how_to_resume(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from advengine.cli import train as train_cli

    out = tmp_path / "run"

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(train_cli, "train_hgd", interrupted)
    argv = ["train", "hgd", "--data", str(tmp_path), "--out", str(out)]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert f"interrupted; no checkpoint yet in {out}" in err
    assert f"resume with `advengine {' '.join(argv)} --resume`" in err
