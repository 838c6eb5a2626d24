"""Commands are imported when they run: the root help and --version start without the library, and
the root help's lines match each command's own help."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

import advengine.cli
from advengine.cli import app, main
from advengine.cli._lazy import COMMANDS, registered

#: What `advengine --version` and `--help` must not import (what made them take 1.4 s).
HEAVY = ("onnxruntime", "onnx", "numpy", "advengine.api", "advengine.attacks", "advengine.competition")


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_start_up_imports_no_library(args: list[str]) -> None:
    # A fresh interpreter: this test process has long imported everything.
    script = (
        "import sys\n"
        "from advengine.cli import main\n"
        f"code = main({args!r})\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r})\n"
        "print(heavy)\n"
        "raise SystemExit(code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_each_listed_line_starts_the_commands_own_help() -> None:
    for name, (modules, line) in COMMANDS.items():
        for module in modules:
            importlib.import_module(module)
        command = registered(app, name)
        assert command is not None, f"{modules} register no command {name!r}"
        # The line may end a sentence that the command's help goes on with ("...: one line each").
        assert _words(command.help).startswith(_words(line).rstrip(".")), name


def test_every_registered_command_is_listed() -> None:
    for modules, _ in COMMANDS.values():
        for module in modules:
            importlib.import_module(module)
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    assert set(root.commands) <= set(COMMANDS)


def test_commands_and_groups_run_and_show_their_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--help"]) == 0
    assert "compile" in capsys.readouterr().out
    assert main(["attack", "--help"]) == 0
    assert "--eps" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2


def test_the_attack_command_imports_no_onnx() -> None:
    # onnx costs about 1 s to import; a run whose graphs and builds are cached never needs it, so the
    # command's own module and the API behind it must not import it (the compiler does, when it runs).
    script = (
        "import sys\n"
        "import advengine.cli.attack, advengine.cli.eval, advengine.api\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'onnx'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_every_command_module_is_named_in_the_table() -> None:
    # A command module that no entry names is never imported, so its command would be missing; one
    # imported eagerly from cli/__init__.py would slow every start (both are merge mistakes).
    named = {module for modules, _ in COMMANDS.values() for module in modules}
    cli_dir = Path(advengine.cli.__file__).parent
    modules = {f"advengine.cli.{p.stem}" for p in cli_dir.glob("*.py") if not p.stem.startswith("_")}
    assert modules == named


def test_a_cached_attack_run_imports_no_onnx(plain_dir: Path, tmp_path: Path) -> None:
    # The run itself, not only the import: the source asked onnx for each model's fixed batch on
    # every run (0.6 s) until that answer was noted in the cache (models/batch_dim.py).
    argv = ["attack", "fgsm", "--data", str(plain_dir), "--eps", "8", "--models", "efficientnet-lite0"]
    assert main([*argv, "--out", str(tmp_path / "warm")]) == 0  # builds and compiles into the cache
    script = (
        "import sys\n"
        "from advengine.cli import main\n"
        f"assert main({[*argv, '--out', str(tmp_path / 'cold')]!r}) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'onnx'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert len(list((tmp_path / "cold").glob("*.png"))) == len(list(plain_dir.glob("*.png")))
