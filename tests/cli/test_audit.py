"""``advengine audit`` through main(), on two labelled DEV sample images with tiny budgets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from advengine.cli import main
from advengine.data import sample_dataset_dir

Capsys = pytest.CaptureFixture[str]


def test_audit_reports_every_attack_robust_accuracy_and_flags(tmp_path: Path, capsys: Capsys) -> None:
    argv = ["audit", "median", "--data", str(sample_dataset_dir()), "--eps", "16", "--limit", "2"]
    tiny = ["--iterations", "2", "--draws", "1", "--queries", "5", "--out", str(tmp_path / "audit.md")]
    assert main([*argv, *tiny, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 2
    assert report["pipeline"] == "median:2 → efficientnet-lite0"
    labels = [r["label"] for r in report["attacks"]]
    assert labels[:2] == ["mifgsm[efficientnet-lite1]", "mifgsm[efficientnet-lite2]"]
    assert {"pgd[base]", "eot-pgd", "apgd-ce", "square-linf", "eot-pgd@8", "eot-pgd@255"} <= set(labels)
    at_eps = [r["accuracy"] for r in report["attacks"] if r["eps"] == 16]
    assert 0.0 <= report["robust_accuracy"] <= min(at_eps)
    # White-box BPDA at ε = 255 leaves nothing standing on two images.
    assert next(r for r in report["attacks"] if r["label"] == "eot-pgd@255")["accuracy"] == 0.0
    assert isinstance(report["flags"], list)
    assert (tmp_path / "audit.md").read_text().startswith("# Audit of `median`")


def test_audit_of_drop_resize_attacks_the_resize_pad_and_the_dropout(tmp_path: Path, capsys: Capsys) -> None:
    argv = ["audit", "drop-resize", "--data", str(sample_dataset_dir()), "--limit", "1", "--param", "draws=2"]
    tiny = ["--iterations", "2", "--draws", "2", "--queries", "5", "--json"]
    assert main([*argv, *tiny]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pipeline"] == "resize-pad×2 → dropout 0.2 → efficientnet-lite0"
    # EOT over the draws and the masks at ε = 255 leaves nothing standing.
    assert next(r for r in report["attacks"] if r["label"] == "eot-pgd@255")["accuracy"] == 0.0


def test_audit_refuses_a_dataset_without_labels(plain_dir: Path, capsys: Capsys) -> None:
    assert main(["audit", "median", "--data", str(plain_dir)]) != 0
    err = capsys.readouterr().err
    assert "has no labels" in err


def test_audit_states_its_cost_budget_and_warnings(tmp_path: Path, capsys: Capsys) -> None:
    argv = ["audit", "median", "--data", str(sample_dataset_dir()), "--limit", "1", "--budget", "fast"]
    assert main([*argv, "--iterations", "1", "--draws", "1"]) == 0
    captured = capsys.readouterr()
    # The cost before the work, then the budget in the result, Square's 100 queries said in both.
    first = captured.err.splitlines()[0]
    assert re.match(r"audit median: \d+ attacks on 1 images: about [\d,]+ model passes", first), first
    assert "model passes" in first
    assert "Square at 100 queries per image" in first
    assert "Square at 100 queries per image" in captured.out
    assert "warning: Square ran at 100 queries per image (budget fast (changed:" in captured.err


def test_an_unknown_budget_is_one_line(capsys: Capsys) -> None:
    assert main(["audit", "median", "--data", str(sample_dataset_dir()), "--budget", "huge"]) == 1
    assert "unknown --budget 'huge'; choose one of fast, standard, full" in capsys.readouterr().err
