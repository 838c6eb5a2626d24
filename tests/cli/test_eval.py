"""``advengine eval`` end to end in subprocesses: kill -9 then --resume gives the uninterrupted scores;
--json; one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from advengine.cli import main
from advengine.competition import ray_executor
from advengine.data import sample_dataset_dir

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, slow: float = 0.3) -> Path:
    sample = sample_dataset_dir()
    text = f"""
plugins = ["tests.competition.fakes"]
batch_size = 2
seed = 7

[dataset]
dir = "{sample}"
limit = 8

[[attacks]]
name = "fake-slow"
params = {{ seconds = {slow} }}

[[attacks]]
name = "random-noise"

[[targeted_attacks]]
name = "fake-target-noop"

[[defenses]]
name = "fake-oracle"
params = {{ dataset = "{sample}" }}

[[defenses]]
name = "fake-constant"
params = {{ label = 389 }}
"""
    path = tmp_path / "competition.toml"
    path.write_text(text)
    return path


def _eval(*args: str) -> list[str]:
    return [sys.executable, "-m", "advengine", "eval", *args]


def _run(*args: str, timeout: float | None = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _eval(*args), env=_env(), capture_output=True, text=True, check=False, timeout=timeout
    )


def _env() -> dict[str, str]:
    # The fake plugin lives in the checkout's tests package, so the workers need it on their path; the
    # checkout's package goes first so that it is the code under test, whatever the venv installed.
    path = os.pathsep.join((str(REPO / "python"), str(REPO)))
    return {**os.environ, "PYTHONPATH": path, "ADVENGINE_DEBUG": ""}


def _scores(results: dict[str, Any]) -> list[Any]:
    items = results["attacks"] + results["defenses"]
    return [(x["name"], x["score"], x["raw_score"], x["worst_score"], x["excluded"]) for x in items] + [
        results["per_eps"],
        results["matrices"],
    ]


def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    whole = tmp_path / "whole"
    done = _run("--config", str(cfg), "--out", str(whole), "--json")
    assert done.returncode == 0, done.stderr
    expected = json.loads(done.stdout)

    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        _eval("--config", str(cfg), "--out", str(cut)),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = cut / "pieces" / "attack" / "fake-slow"
    deadline = time.monotonic() + 120
    while len(list(records.glob("*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no cleanup of any kind
    proc.wait()
    assert len(list(records.glob("*.json"))) < 4, "the run finished before it could be killed"
    assert not (cut / "results.json").exists()

    refused = _run("--config", str(cfg), "--out", str(cut), timeout=None)
    assert refused.returncode == 1
    assert "add --resume" in refused.stderr

    resumed = _run("--config", str(cfg), "--out", str(cut), "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    assert _scores(json.loads(resumed.stdout)) == _scores(expected)
    assert _scores(json.loads((cut / "results.json").read_text())) == _scores(expected)

    other = _run("--config", str(cfg), "--out", str(cut), "--resume", "--batch-size", "4", timeout=None)
    assert other.returncode == 1
    assert other.stderr.strip().splitlines()[-1].startswith("error: --resume:")


def test_bad_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        '[[attacks]]\nname = "noop"\n\n[[attacks]]\nname = "random-noise"\nparams = { fast = 1 }\n'
    )
    assert main(["eval", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"{cfg}: attacks[1].params: unknown parameter 'fast'" in err
    assert not (tmp_path / "o").exists()


def test_flags_override_and_human_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.delenv("ADVENGINE_PROVIDERS", raising=False)  # restored after the test
    cfg = _config(tmp_path, slow=0.0)
    out = tmp_path / "o"
    code = main(
        [
            "eval",
            "--config",
            str(cfg),
            "--out",
            str(out),
            "--limit",
            "4",
            "--batch-size",
            "4",
            "--workers",
            "0",
            "--time-limit",
            "inf",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "defenses (paper scores):" in captured.out
    assert "fake-oracle" in captured.out
    assert "score 1.0000" in captured.out
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["images"] == 4
    assert (out / "report.html").is_file()  # every run ends with its report
    assert [b["eps"] for b in results["batches"]] == [4]
    assert "attacks: 3 of 3 pieces to run" in captured.err
    # The per-stage breakdown (issue 25), after the run, on stderr.
    stages = next(line for line in captured.err.splitlines() if line.startswith("stages: "))
    for name in ("start-up", "build", "warm-up", "attack steps", "defense forwards", "PNG IO", "reports"):
        assert f"{name} " in stages
    assert results["timings"]["startup"] > 0
    # The providers reach the in-process pieces in a RunContext, not through the environment.
    assert "ADVENGINE_PROVIDERS" not in os.environ


def test_retry_failed_flag_redoes_the_crashed_piece(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.delenv("ADVENGINE_PROVIDERS", raising=False)  # restored after the test
    cfg = tmp_path / "flaky.toml"
    cfg.write_text(
        "\n".join(
            [
                'plugins = ["tests.competition.fakes"]',
                "batch_size = 2",
                "[dataset]",
                f'dir = "{sample_dataset_dir()}"',
                "limit = 4",
                "[[attacks]]",
                'name = "fake-flaky"',
                f'params = {{ marker = "{tmp_path / "m"}" }}',
                "[[defenses]]",
                'name = "fake-constant"',
            ]
        )
        + "\n"
    )
    args = [
        "eval",
        "--config",
        str(cfg),
        "--out",
        str(tmp_path / "o"),
        "--workers",
        "0",
        "--time-limit",
        "inf",
    ]
    assert main(args) == 0
    first = capsys.readouterr()
    assert "attack/fake-flaky/b0000: crashed" in first.err
    assert "1 exclusions" in first.out
    assert "1 of " in first.err
    assert "pieces failed (1 crashed, 0 timed out" in first.err
    assert "--strict exits 3" in first.err
    # --strict: the same finished run, a distinct exit code (a resume redoes nothing, as nothing is left)
    assert main([*args, "--resume", "--strict"]) == 3
    assert "pieces failed (1 crashed" in capsys.readouterr().err
    assert main([*args, "--retry-failed"]) == 0
    again = capsys.readouterr()
    assert "resuming" in again.err
    assert "attacks: 1 of 2 pieces to run" in again.err
    assert "exclusions" not in again.out
    assert "pieces failed" not in again.err


def test_ctrl_c_says_what_was_kept_and_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from advengine.cli import eval as eval_cli

    out = tmp_path / "o"

    def interrupted(*args: Any, **kwargs: Any) -> None:
        for name in ("b0000", "b0001"):
            record = out / "pieces" / "attack" / "noop" / f"{name}.json"
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text('{"status": "ok"}')
        raise KeyboardInterrupt

    monkeypatch.setattr(eval_cli, "run_competition", interrupted)
    assert main(["eval", "--limit", "2", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert (
        f"interrupted; 2 pieces kept in {out}; resume with `advengine eval --limit 2 --out {out} --resume`"
        in err
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--ray-address", "auto"], "--ray-address needs --executor ray"),
        (["--device", "gpu1"], "--device 'gpu1': give cuda:N, e.g. cuda:0"),
    ],
)
def test_executor_flags_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert main(["eval", "--limit", "2", "--out", str(tmp_path / "o"), *flags]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [f"error: {message}"] or err.endswith(message), err


def test_ray_executor_without_ray_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray_executor, "ray", None)
    assert main(["eval", "--limit", "2", "--executor", "ray", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--executor ray needs Ray: pip install 'advengine[ray]'" in err


def test_workers_0_refuses_a_time_limit_it_cannot_enforce(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--limit", "2", "--out", str(tmp_path / "o"), "--workers", "0"]) != 0
    err = capsys.readouterr().err
    assert "cannot be enforced in this process (--workers 0)" in err
    assert "--time-limit inf" in err
    assert not (tmp_path / "o").exists()


def test_two_rounds_with_teams(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Team blue owns the oracle defense and the shift attack (the oracle undoes any shift, the constant
    # defense never answers a true label): under "proposal" scoring neither is scored against the other.
    sample = sample_dataset_dir()
    cfg = tmp_path / "rounds.toml"
    cfg.write_text(
        f"""
plugins = ["tests.competition.fakes"]
batch_size = 2
scoring = "proposal"
[dataset]
dir = "{sample}"
[[attacks]]
name = "noop"
baseline = true
[[attacks]]
name = "fake-shift"
label = "shift"
team = "blue"
[[defenses]]
name = "fake-oracle"
label = "oracle"
team = "blue"
params = {{ dataset = "{sample}" }}
[[defenses]]
name = "fake-constant"
label = "const"
baseline = true
[[rounds]]
name = "dev"
dataset = {{ dir = "{sample}", limit = 2 }}
[[rounds]]
name = "final"
dataset = {{ dir = "{sample}", limit = 4 }}
attacks = [{{ name = "noop", baseline = true }}, {{ name = "fake-shift", label = "shift", team = "red" }}]
"""
    )
    out = tmp_path / "o"
    args = ["eval", "--config", str(cfg), "--out", str(out), "--workers", "0", "--time-limit", "inf"]
    assert main([*args, "--json"]) == 0
    rounds = json.loads(capsys.readouterr().out)["rounds"]
    assert [(r["name"], r["images"], r["mode"]) for r in rounds] == [
        ("dev", 2, "proposal"),
        ("final", 4, "proposal"),
    ]
    dev = {t["track"]: t for t in rounds[0]["tracks"]}
    # dev: shift is scored against const alone (1.0), not against its own team's oracle; noop, the
    # best attack baseline, fools const and not the oracle (0.5).
    assert dev["nontargeted"]["top"] == {"name": "shift", "team": "blue", "score": 1.0}
    assert dev["nontargeted"]["best_baseline"]["name"] == "noop"
    assert dev["nontargeted"]["best_baseline"]["score"] == 0.5
    assert dev["nontargeted"]["margin"] == 0.5
    assert dev["defense"]["top"]["score"] == 1.0  # the oracle, against noop alone
    assert dev["defense"]["best_baseline"] == {"name": "const", "team": None, "score": 0.0}
    assert dev["targeted"]["top"] is None
    # final: shift is team red now, so the blue oracle scores it (and stops it): (0 + 1) / 2.
    final = {t["track"]: t for t in rounds[1]["tracks"]}
    assert final["nontargeted"]["top"]["score"] == 0.5
    # Each round is a whole run of its own, with the teams in its results.
    dev_results = json.loads((out / "dev" / "results.json").read_text())
    assert dev_results["dataset"]["images"] == 2
    assert {d["name"]: d.get("team") for d in dev_results["defenses"]} == {"oracle": "blue", "const": None}
    assert json.loads((out / "rounds.json").read_text())["rounds"] == rounds
    assert (out / "final" / "report.html").is_file()
    # The same run under the report's rule (the default): shift is scored against both defenses.
    paper = tmp_path / "paper.toml"
    paper.write_text(cfg.read_text().replace('scoring = "proposal"', 'scoring = "paper"'))
    assert main(["eval", "--config", str(paper), "--out", str(tmp_path / "p"), "--workers", "0",
                 "--time-limit", "inf", "--json"]) == 0  # fmt: skip
    paper_dev = {t["track"]: t for t in json.loads(capsys.readouterr().out)["rounds"][0]["tracks"]}
    assert paper_dev["nontargeted"]["top"]["score"] == 0.5
