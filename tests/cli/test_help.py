"""Every ``--help`` renders, and no bracketed text of a help string is lost on the way (rich markup
once ate "[default: …]" and "advengine[ray]")."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from advengine.cli import app


def _commands() -> list[tuple[list[str], Any]]:
    root = get_command(app)
    found: list[tuple[list[str], Any]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        found.append((path, cmd))
        # duck-typed: typer's groups are not always click.Group subclasses. Through list_commands and
        # get_command, as click itself looks them up: the root group imports its commands lazily
        # (cli/_lazy.py), so its ``commands`` dict is empty until each is asked for.
        if hasattr(cmd, "list_commands"):
            for name in sorted(cmd.list_commands(None)):
                walk(cmd.get_command(None, name), [*path, name])

    walk(root, [])
    return found


COMMANDS = _commands()


def _bracketed(cmd: Any) -> list[str]:
    texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
    return [m for t in texts for m in re.findall(r"\[[^\]]*\]", " ".join(t.split()))]


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[" ".join(p) or "advengine" for p, _ in COMMANDS])
def test_help_keeps_every_bracket(path: list[str], cmd: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    # Without any whitespace: the wrapper may break a long bracket at a hyphen.
    bare = "".join(flat.split())
    for text in _bracketed(cmd):
        assert "".join(text.split()) in bare, f"`advengine {' '.join(path)} --help` lost {text!r}"
    assert "<bool>" not in flat
    assert "\\[" not in flat


def test_some_help_strings_do_carry_brackets() -> None:
    # The test above checks something: the help strings of these commands hold bracketed text.
    all_brackets = [b for _, cmd in COMMANDS for b in _bracketed(cmd)]
    assert any("[default:" in b for b in all_brackets)
    assert any("[ray]" in b for b in all_brackets)


def test_the_app_is_a_typer_app() -> None:
    assert isinstance(app, typer.Typer)
