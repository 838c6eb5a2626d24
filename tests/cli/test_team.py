"""``advengine team add/list``: the token is printed once, --json for scripts, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from advengine.cli import app, main


def test_team_add_prints_the_token_once_and_list_shows_the_team(tmp_path: Path) -> None:
    runner = CliRunner()
    state = str(tmp_path / "state")
    added = runner.invoke(app, ["team", "add", "alpha", "--state", state, "--json"])
    assert added.exit_code == 0, added.output
    token = json.loads(added.stdout)["token"]
    assert len(token) >= 40
    plain = runner.invoke(app, ["team", "add", "beta", "--state", state])
    assert "shown only now" in plain.stdout
    listed = runner.invoke(app, ["team", "list", "--state", state, "--json"])
    assert [t["name"] for t in json.loads(listed.stdout)] == ["alpha", "beta"]
    assert token not in listed.stdout
    assert "alpha" in runner.invoke(app, ["team", "list", "--state", state]).stdout


def test_team_errors_are_one_line(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    assert main(["team", "add", "alpha", "--state", state]) == 0
    assert main(["team", "add", "alpha", "--state", state]) == 1
    assert main(["team", "add", "no.dots", "--state", state]) == 1
    assert (
        main(["team", "list", "--state", state, "--db", "postgresql+psycopg://nobody@/x?host=/nonexistent"])
        == 1
    )


def test_list_refuses_a_state_dir_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Listing only reads: a mistyped --state is one line, not a new empty state with its database."""
    missing = tmp_path / "no-such-state"
    assert main(["team", "list", "--state", str(missing)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no such directory" in err[0]
    assert not missing.exists()
