"""``advengine.cli._options``: the one progress bar, and its plain lines off a terminal."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress

from advengine.cli import _options, main
from advengine.cli._options import LineProgress, progress_bar


def test_a_terminal_gets_the_bar_and_a_log_file_gets_lines() -> None:
    assert not isinstance(progress_bar(Console(file=io.StringIO(), force_terminal=True)), LineProgress)
    assert isinstance(progress_bar(Console(file=io.StringIO(), force_terminal=False)), LineProgress)
    assert isinstance(progress_bar(Console(file=io.StringIO(), force_terminal=False)), Progress)


def test_lines_name_the_stage_done_total_and_eta() -> None:
    sink = io.StringIO()
    bar = LineProgress(interval=0.02, console=Console(file=sink, force_terminal=False), transient=True)
    with bar:
        task = bar.add_task("attack/mifgsm", total=10)
        bar.advance(task, 3)
        time.sleep(0.2)  # no update meanwhile: the thread still reports
    lines = [ln for ln in sink.getvalue().splitlines() if ln.strip()]
    assert len(lines) >= 2
    assert lines[-1].startswith("attack/mifgsm: 3/10, elapsed 0:00:0")
    assert "ETA " in lines[-1]


def test_a_disabled_bar_prints_nothing() -> None:
    sink = io.StringIO()
    with LineProgress(interval=0.01, console=Console(file=sink), disable=True) as bar:
        bar.add_task("x", total=1)
        time.sleep(0.05)
    assert not sink.getvalue().strip()


def test_attack_logs_progress_lines_to_a_non_terminal_stderr(
    plain_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_options, "LOG_INTERVAL", 0.001)
    argv = ["attack", "noop", "--data", str(plain_dir), "--out", str(tmp_path / "adv"), "--eps", "4"]
    assert main([*argv, "--batch-size", "1"]) == 0
    err = capsys.readouterr().err
    assert any(line.startswith("noop: ") and "/3, elapsed" in line for line in err.splitlines()), err
