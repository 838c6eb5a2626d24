"""``advengine attack`` through main(), as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from advengine.cli import main
from advengine.data import sample_dataset_dir
from advengine.kernels import read_png_batch

Capsys = pytest.CaptureFixture[str]


def _linf(a_dir: Path, b_dir: Path) -> int:
    names = sorted(p.name for p in a_dir.glob("*.png"))
    a = read_png_batch([a_dir / n for n in names])
    b = read_png_batch([b_dir / n for n in names])
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


def test_attack_writes_same_named_pngs_within_eps_and_resumes(
    plain_dir: Path, tmp_path: Path, capsys: Capsys
) -> None:
    out = tmp_path / "adv"
    argv = ["attack", "fgsm", "--data", str(plain_dir), "--out", str(out), "--eps", "8"]
    assert main([*argv, "--models", "efficientnet-lite0", "--batch-size", "2"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == sorted(p.name for p in plain_dir.glob("*.png"))
    assert 0 < _linf(out, plain_dir) <= 8
    assert "wrote 3 images" in capsys.readouterr().out
    # A second run finds everything written and skips it.
    victim = sorted(out.glob("*.png"))[0]
    victim.unlink()
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["written"], summary["skipped"]) == (1, 2)
    assert victim.is_file()


def test_targeted_attack_reads_target_class_csv(plain_dir: Path, tmp_path: Path, capsys: Capsys) -> None:
    names = sorted(p.name for p in plain_dir.glob("*.png"))
    (plain_dir / "target_class.csv").write_text("".join(f"{n},{7 + i}\n" for i, n in enumerate(names)))
    out = tmp_path / "adv"
    argv = ["attack", "step-target-class", "--data", str(plain_dir), "--out", str(out), "--eps", "4"]
    assert main([*argv, "--param", "iterations=1"]) == 0
    assert _linf(out, plain_dir) <= 4
    capsys.readouterr()
    (plain_dir / "target_class.csv").write_text(f"{names[0]},7\n")
    assert main([*argv[:-2], "--eps", "4", "--limit", "3", "--out", str(tmp_path / "adv2")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "target_class.csv" in err[0]
    assert "no target for image" in err[0]


def test_targeted_attack_uses_the_dataset_csv(tmp_path: Path) -> None:
    out = tmp_path / "adv"
    argv = ["attack", "step-target-class", "--data", str(sample_dataset_dir()), "--out", str(out)]
    assert main([*argv, "--eps", "2", "--limit", "2"]) == 0
    assert len(list(out.glob("*.png"))) == 2


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--param", "iterations"], "not key=value"),
        (["--param", "bogus=1"], "unknown parameter 'bogus'"),
        (["--param", "iterations=x"], "must be an integer"),
        (["--models", "nope"], "unknown source model 'nope'"),
        (["--models", " , "], "--models is empty"),
    ],
)
def test_bad_flags_are_one_line(
    extra: list[str], match: str, plain_dir: Path, tmp_path: Path, capsys: Capsys
) -> None:
    argv = ["attack", "ifgsm", "--data", str(plain_dir), "--out", str(tmp_path / "o"), "--eps", "4", *extra]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert match in err[0]


def test_unknown_attack_is_one_line(plain_dir: Path, tmp_path: Path, capsys: Capsys) -> None:
    assert main(["attack", "nope", "--data", str(plain_dir), "--out", str(tmp_path / "o"), "--eps", "4"]) == 1
    err = capsys.readouterr().err
    assert "unknown attack 'nope'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["attack"])
def test_help(command: str, capsys: Capsys) -> None:
    assert main([command, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_ctrl_c_keeps_the_images_written(
    plain_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from advengine.cli import attack as attack_cli

    out = tmp_path / "adv"

    def interrupted(*args: object, **kwargs: object) -> None:
        out.mkdir()
        (out / "1.png").write_bytes(b"")
        raise KeyboardInterrupt

    monkeypatch.setattr(attack_cli, "run_attack", interrupted)
    argv = ["attack", "noop", "--data", str(plain_dir), "--out", str(out), "--eps", "4"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert f"interrupted; 1 images kept in {out}; resume with `advengine {' '.join(argv)}`" in err
