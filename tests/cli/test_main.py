"""The CLI's error contract: one line, non-zero exit, traceback only with ADVENGINE_DEBUG=1."""

from __future__ import annotations

import subprocess
import sys

import pytest

from advengine.cli import main
from advengine.errors import ConfigError


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("advengine ")


def test_user_error_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)
    assert main(["eval", "--config", "no-such-config.toml"]) == 1
    err = capsys.readouterr().err
    assert "no-such-config.toml: no such config file" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_debug_reraises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVENGINE_DEBUG", "1")
    with pytest.raises(ConfigError):
        main(["eval", "--config", "no-such-config.toml"])


def test_unknown_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--no-such-flag"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_python_dash_m() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "advengine", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "eval" in proc.stdout
