"""``advengine.cli._errors``: OSErrors on user paths are one line and exit 1, never "internal error"."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import typer

from advengine.cli import main
from advengine.cli._errors import EXIT_BUG, EXIT_USER, os_error_line, run_main


def _app_raising(exc: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise exc

    return app


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.EROFS, "read-only"),
        (errno.ENOSPC, "no space left"),
        (errno.EACCES, "permission denied"),
        (errno.EPERM, "not permitted"),
    ],
)
def test_an_os_error_on_a_path_is_one_line_naming_it(
    code: int, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = OSError(code, os.strerror(code), "/runs/out/1.png")
    assert run_main(_app_raising(exc), []) == EXIT_USER
    err = capsys.readouterr().err
    assert "/runs/out/1.png" in err
    assert words in err
    assert "internal error" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_full_disk_without_a_path_is_still_the_users(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(_app_raising(OSError(errno.ENOSPC, "No space left on device")), []) == EXIT_USER
    assert "no space left" in capsys.readouterr().err


def test_an_os_error_without_a_path_stays_a_bug() -> None:
    assert os_error_line(OSError(errno.EIO, "I/O error")) is None
    assert run_main(_app_raising(OSError(errno.EIO, "I/O error")), []) == EXIT_BUG


def test_attack_out_under_a_file(plain_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    code = main(["attack", "noop", "--data", str(plain_dir), "--out", str(blocker / "adv"), "--eps", "4"])
    err = capsys.readouterr().err
    assert code == EXIT_USER, err
    assert str(blocker) in err
    assert "internal error" not in err
