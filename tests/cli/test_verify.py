"""``advengine verify RUN_DIR``: the offline check of a run, and one writer per run dir at the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.cli.test_eval import REPO, _config
from tests.competition.conftest import lock_holder

from advengine.cli import main
from advengine.kernels import read_png_batch, write_png_batch


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.syspath_prepend(str(REPO))
    out = tmp_path / "o"
    args = ["eval", "--config", str(_config(tmp_path, slow=0.0)), "--out", str(out)]
    assert main([*args, "--limit", "4", "--workers", "0", "--time-limit", "inf"]) == 0
    capsys.readouterr()
    return out


def test_a_finished_run_verifies(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(run_dir)]) == 0
    out = capsys.readouterr().out
    # 3 attacks × 2 batches of 2, and 2 defenses on the clean images and every attack, 2 batches each
    assert "finished run, 22 records, 12 stored images" in out
    assert "HMAC: checked" in out
    assert "ε-balls: checked" in out
    assert "signature: valid, by public key " in out
    assert out.strip().endswith("verified: no problems")
    assert main(["verify", str(run_dir), "--json"]) == 0
    check = json.loads(capsys.readouterr().out)
    assert check["ok"] is True
    assert check["problems"] == []


def test_tampering_is_found_and_exits_1(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = sorted((run_dir / "adv" / "random-noise").iterdir())[0]
    img = read_png_batch([png], strict=True)
    img[0, 0, 0, 0] ^= 1
    write_png_batch(np.ascontiguousarray(img), [png])
    results = json.loads((run_dir / "results.json").read_text())
    results["defenses"][0]["score"] = 1.0
    (run_dir / "results.json").write_text(json.dumps(results))
    assert main(["verify", str(run_dir), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert problems == [
        "attack/random-noise/b0000: its stored adversarial images do not match the hash recorded when "
        "they were written",
        "results.json: changed since the run was signed",
    ]


def test_a_reader_without_the_key_checks_the_signature(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sig = json.loads((run_dir / "signature.json").read_text())
    args = ["verify", str(run_dir), "--key-dir", str(tmp_path / "nokeys")]
    assert main([*args, "--public-key", sig["public_key"]]) == 0
    out = capsys.readouterr().out
    assert "HMAC: not checked" in out
    assert "note: HMAC not checked: the key of run" in out
    assert "signature: valid\n" in out
    assert main([*args, "--public-key", "00" * 32]) == 1
    assert "not by the given public key" in capsys.readouterr().out


def test_a_second_eval_on_a_locked_dir_is_one_line(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with lock_holder(f"RunDir(Path({str(run_dir)!r})).lock()") as holder:
        args = ["eval", "--config", str(_config(tmp_path, slow=0.0)), "--out", str(run_dir), "--resume"]
        assert main([*args, "--limit", "4", "--workers", "0", "--time-limit", "inf"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1] == (
            f"error: --out {run_dir} is being written by another advengine eval (pid {holder.pid}); "
            "wait for it to end, or choose another --out"
        )


def test_verify_of_no_run_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path)]) == 1
    assert "holds no run.json" in capsys.readouterr().err
