"""``advengine defend`` through main(), as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advengine.cli import main

Capsys = pytest.CaptureFixture[str]


def test_defend_writes_the_nips17_csv(plain_dir: Path, tmp_path: Path, capsys: Capsys) -> None:
    out = tmp_path / "labels.csv"
    assert main(["defend", "median", "--data", str(plain_dir), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    for line in lines:
        name, label = line.split(",")
        assert name.endswith(".png")
        assert 1 <= int(label) <= 1000
    capsys.readouterr()
    assert main(["defend", "classifier", "--data", str(plain_dir), "--out", str(out), "--json"]) == 0
    labels = json.loads(capsys.readouterr().out)
    assert len(labels) == 3


def test_bad_defense_flags_are_one_line(plain_dir: Path, tmp_path: Path, capsys: Capsys) -> None:
    argv = ["defend", "pipeline", "--data", str(plain_dir), "--out", str(tmp_path / "x.csv")]
    assert main([*argv, "--param", "transforms=blur"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "unknown transform 'blur'" in err[0]
    assert not (tmp_path / "x.csv").exists()


def test_help(capsys: Capsys) -> None:
    assert main(["defend", "--help"]) == 0
    assert "Usage" in capsys.readouterr().out
