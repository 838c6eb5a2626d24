"""``advengine submit`` without a server or with a bad path: one line and exit 1, never a traceback.
(The round trip with a real server is in test_serve.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from advengine.cli import main


def test_an_unreachable_server_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"x")
    code = main(
        ["submit", str(archive), "--server", "http://127.0.0.1:9", "--token", "t", "--track", "attack"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot reach http://127.0.0.1:9" in err
    assert "Traceback" not in err


def test_a_missing_path_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "submit",
            str(tmp_path / "nope"),
            "--server",
            "http://127.0.0.1:9",
            "--token",
            "t",
            "--track",
            "attack",
        ]
    )
    assert code == 1
    assert "no such file or directory" in capsys.readouterr().err
