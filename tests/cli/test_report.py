"""``advengine report`` and the report written at the end of ``advengine eval``."""

from __future__ import annotations

import json
import re
import webbrowser
from collections.abc import Callable
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


def _garbage_results(root: Path) -> None:
    (root / "results.json").write_text('{"schema": "advengine.eval/1", "attacks": ')


def _results_of_the_wrong_shape(root: Path) -> None:
    (root / "results.json").write_text('{"schema": 3, "attacks": "x"}')


def _run_json_a_list(root: Path) -> None:
    (root / "run.json").write_text("[]")


def _run_json_without_a_config(root: Path) -> None:
    (root / "run.json").write_text('{"fingerprint": "x", "config": {"config": {"seed": 0}}}')


def _pngs_truncated(root: Path) -> None:
    for png in (root / "adv").rglob("*.png"):
        png.write_bytes(png.read_bytes()[:100])


@pytest.mark.parametrize(
    ("damage", "line"),
    [
        (_garbage_results, r"results\.json is not a valid results\.json \(Invalid JSON: EOF"),
        (_results_of_the_wrong_shape, r"results\.json is not a valid results\.json \(schema: "),
        (_run_json_a_list, r"run\.json is not a valid run\.json \(Input should be an object\)"),
        (_run_json_without_a_config, r"run\.json is not a valid run\.json \(config\.config\.batch_size: "),
        (
            _pngs_truncated,
            r"report: .*\.png: not a readable PNG .*the run dir is damaged \(`advengine verify ",
        ),
    ],
)
def test_a_damaged_run_dir_is_one_line(
    damage: Callable[[Path], None],
    line: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 29: each of these ended as "internal error" (exit 70)."""
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)
    root = _run(tmp_path)
    damage(root)
    assert main(["report", str(root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert re.match(rf"error: .*{line}", err[0]), err[0]
