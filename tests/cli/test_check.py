"""``advengine check``: the JSON shape, the human summary, the report's Rules section, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advengine.cli import main
from advengine.competition import parse_config, run_competition
from advengine.data import sample_dataset_dir

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(REPO))  # the check's worker imports the fakes plugin
    sample = str(sample_dataset_dir())
    cfg = parse_config(
        {
            "plugins": ["tests.competition.fakes"],
            "batch_size": 4,
            "dataset": {"dir": sample, "limit": 8},
            "attacks": [{"name": "noop"}],
            "defenses": [
                {"name": "fake-oracle", "params": {"dataset": sample}},
                {"name": "fake-history", "params": {"dataset": sample}},
            ],
        },
        source="test.toml",
    )
    run_competition(cfg, tmp_path / "run")
    return tmp_path / "run"


def test_check_json(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(run), "--json", "--sample", "6"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"findings", "checked"}
    [finding] = out["findings"]
    assert (finding["rule"], finding["entry"]) == ("stateless", "fake-history")
    assert set(finding) == {"rule", "entry", "evidence", "effect"}
    assert [c["entry"] for c in out["checked"]] == ["noop", "fake-oracle", "fake-history"]
    assert all(c["rules"] == ["stateless"] for c in out["checked"])
    results = json.loads((run / "results.json").read_text())
    assert results["rules"]["findings"] == out["findings"]
    html = (run / "report.html").read_text()
    assert 'id="rules"' in html
    assert "what it saw before" in html


def test_check_summary_and_entries(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(run), "--entries", "fake-oracle", "--sample", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("0 findings; 1 entries checked (1 rule checks)")


def test_check_errors_are_one_line(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(run), "--entries", "nope"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: --entries nope: no such entry in the run")
    assert main(["check", str(tmp_path / "elsewhere")]) == 1
    assert "not an advengine eval run directory" in capsys.readouterr().err
