"""``advengine report`` and the report written at the end of ``advengine eval``."""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path

import pytest
from tests.reporting.conftest import RunBuilder, config, full_run

from advengine.cli import main
from advengine.data import sample_dataset_dir
from advengine.reporting import page

REPO = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path) -> Path:
    b = RunBuilder(tmp_path / "run", config())
    full_run(b)
    return b.root


def test_report_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _run(tmp_path)
    assert main(["report", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["path"] == str(root / "report.html")
    assert out["bytes"] == (root / "report.html").stat().st_size
    assert (out["finished"], out["missing_pieces"], len(out["figures"])) == (False, 0, 6)


def test_report_out_and_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    root = _run(tmp_path)
    target = tmp_path / "elsewhere.html"
    assert main(["report", str(root), "--out", str(target), "--open"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {target} (")
    assert opened == [target.resolve().as_uri()]
    assert not (root / "report.html").exists()


def test_not_a_run_dir_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        f"error: {tmp_path} holds no run.json, so it is not an advengine eval run directory"
    ]


def test_eval_keeps_its_results_when_the_report_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(run_dir: Path, out: Path | None = None) -> page.Report:
        raise RuntimeError("no fonts\non this machine")

    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.delenv("ADVENGINE_PROVIDERS", raising=False)
    monkeypatch.setattr(page, "write_report", broken)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'plugins = ["tests.competition.fakes"]\nbatch_size = 2\n[dataset]\ndir = "{sample_dataset_dir()}"\n'
        'limit = 2\n[[attacks]]\nname = "noop"\n[[defenses]]\nname = "fake-constant"\n'
    )
    out = tmp_path / "o"
    assert (
        main(["eval", "--config", str(cfg), "--out", str(out), "--workers", "0", "--time-limit", "inf"]) == 0
    )
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "report.html" in line]
    assert warnings == ["warning: report.html was not written: RuntimeError: no fonts on this machine"]
    assert (out / "results.json").is_file()
    assert not (out / "report.html").exists()
