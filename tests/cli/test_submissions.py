"""``advengine submissions validate`` and ``advengine eval --submission``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from advengine.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "submissions" / "samples"


def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["submissions", "validate", str(SAMPLES / "noop_attack")]
    args += ["--images", "2", "--json", "--sandbox", "bwrap"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["name"] == "noop_attack"
    assert report["dry_run"]["images"] == 2
    assert report["dry_run"]["budget"].startswith("cgroup")  # this machine: a cgroup per run


def test_validate_invalid_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    shutil.copytree(SAMPLES / "hang_attack", tmp_path / "src" / "hang_attack")
    (tmp_path / "src" / "hang_attack" / "marker.txt").write_text("advengine-cli-hang")
    sub = shutil.make_archive(str(tmp_path / "hang"), "gztar", tmp_path / "src", "hang_attack")
    code = main(
        ["submissions", "validate", sub, "--images", "1", "--time-limit", "1.5", "--sandbox", "bwrap"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "killed after the 1.5 s time limit" in out
    assert "hang: INVALID" in out  # the archive name without the extension


def test_validate_missing_path_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submissions", "validate", "no/such/sub.zip"]) == 1
    out = capsys.readouterr()
    assert "no such submission" in out.out


def test_eval_with_submissions_in_workers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The advengine CLI itself as entry points (advengine attack / advengine defend), in a worker."""
    args = [
        "eval",
        "--no-builtins",
        "--limit",
        "2",
        "--batch-size",
        "2",
        "--time-limit",
        "120",
        "--sandbox",
        "bwrap",
    ]
    args += [
        "--submission",
        str(SAMPLES / "advengine_attack"),
        "--submission",
        str(SAMPLES / "advengine_defense"),
    ]
    args += [
        "--submission",
        str(SAMPLES / "noop_attack"),
        "--workers",
        "1",
        "--out",
        str(tmp_path / "run"),
        "--json",
    ]
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in results["attacks"]] == ["advengine_attack", "noop_attack"]
    assert all(a["images_produced"] == 2 for a in results["attacks"])
    (defense,) = results["defenses"]
    assert defense["name"] == "advengine_defense"
    assert defense["pieces"]["ok"] == 3  # the clean batch and the two attacks' batches
    record = json.loads((tmp_path / "run/pieces/defense/advengine_defense/clean/b0000.json").read_text())
    assert all(1 <= label <= 1000 for label in record["labels"])


def test_eval_no_builtins_without_submissions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--no-builtins"]) == 1
    assert "--no-builtins leaves no roster" in capsys.readouterr().err


def test_unsafe_flag_is_only_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from advengine.cli.submissions import sandbox_choice
    from advengine.submissions import sandbox

    assert sandbox_choice("auto", True) == "auto"  # bwrap works here: still sandboxed
    monkeypatch.setattr(sandbox, "bwrap_status", lambda: "bwrap not found")
    monkeypatch.setattr(sandbox, "docker_status", lambda: "no engine")
    assert sandbox_choice("auto", True) == "unsafe-none"
    assert sandbox_choice("auto", False) == "auto"  # and eval then refuses with one line


def test_eval_refuses_without_a_sandbox(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from advengine.submissions import sandbox

    monkeypatch.setattr(sandbox, "bwrap_status", lambda: "bwrap not found")
    monkeypatch.setattr(sandbox, "docker_status", lambda: "no engine")
    args = [
        "eval",
        "--no-builtins",
        "--submission",
        str(SAMPLES / "noop_attack"),
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "no sandbox can be made: bwrap not found" in err
    assert "--unsafe-no-sandbox" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "--time-limit", "inf", "--no-builtins", "--submission", str(SAMPLES / "noop_attack")],
        ["eval", "--time-limit", "1e12"],
        ["submissions", "validate", str(SAMPLES / "noop_attack"), "--time-limit", "inf"],
        ["submissions", "validate", str(SAMPLES / "noop_attack"), "--memory-mb", str(2**50)],
    ],
)
def test_unbounded_numbers_are_one_line_errors(
    args: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([*args, *(["--out", str(tmp_path / "r")] if args[0] == "eval" else [])]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "time_limit" in err or "time-limit" in err or "memory-mb" in err
