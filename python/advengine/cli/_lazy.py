"""Commands imported when they are run, not when ``advengine`` starts.

Importing every command module at start-up pulled in ONNX, ONNX Runtime, the compiler and the attacks
(1.3 s of a 1.4 s ``advengine --version``). The root group lists every command from :data:`COMMANDS`
and imports a command's module (which registers it on the typer app as before) only when that command
is looked up to run or to show its own help. The root ``--help`` shows the one-line help kept here;
tests/cli/test_lazy.py checks each line against the command's own help, so they cannot drift.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

# Typer ships its own copy of click (typer._click), so the click types here are typer's, by way of
# TyperCommand/TyperGroup; contexts and formatters are passed through untouched (Any).

#: Every command and command group of the root app: name → (the modules that register it and its
#: sub-commands, imported in this order; the first sentence of its help, shown by ``advengine --help``),
#: in the order the root help lists them. A new command module goes here, not into cli/__init__.py
#: (an import there would load it, and all it imports, on every start); tests/cli/test_lazy.py fails
#: for a command module that no entry names.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "attack": (("advengine.cli.attack",), "Write an adversarial copy of every image within --eps (L∞)."),
    "audit": (
        ("advengine.cli.audit",),
        "Transfer, white-box and adaptive (BPDA/EOT, APGD, Square) attacks on DEFENSE; accuracy per attack, "
        "per-image robust accuracy, and flags of gradient masking.",
    ),
    "defend": (
        ("advengine.cli.defend",),
        "Classify every image and write the NIPS 2017 CSV (TF-Slim labels 1..1000), atomically.",
    ),
    "doctor": (
        ("advengine.cli.doctor",),
        "Check this machine: ONNX Runtime and its providers, CUDA and cuDNN, bubblewrap, Ray, threads and "
        "the cache dir; each missing piece comes with its fix.",
    ),
    "eval": (
        ("advengine.cli.eval",),
        "Run a whole competition: every attack on every batch, every defense on every adversarial batch "
        "and on the clean images, then score it (NIPS 2017 Algorithm 1).",
    ),
    "list": (("advengine.cli.list",), "List the registered attacks and defenses."),
    "report": (
        ("advengine.cli.report",),
        "Write the HTML report of a run: leaderboards, figures, gallery, timings, failures, metadata.",
    ),
    "check": (
        ("advengine.cli.check",),
        "Check a finished run against the competition's rules: stateless entries that act one image at "
        "a time, no collusion between a team's attack and defense, no hidden channels.",
    ),
    "config": (
        ("advengine.cli.config",),
        "Competition config files (the TOML that `advengine eval --config` reads).",
    ),
    "data": (
        ("advengine.cli.data",),
        "Download, verify and describe NIPS 2017 datasets (images/ + dev_dataset.csv).",
    ),
    "submissions": (
        ("advengine.cli.submissions",),
        "Check original NIPS 2017 submissions (dir, .zip, .tar, .tar.gz with metadata.json).",
    ),
    "graph": (
        ("advengine.cli.graph",),
        "Compile ONNX classifiers into gradient graphs: forward + loss + input gradient (and optionally a "
        "fused attack step) in standard ONNX ops that stock onnxruntime runs.",
    ),
    "models": (
        ("advengine.cli.models",),
        "List, build, verify and register the ONNX classifiers (the model zoo).",
    ),
    "train": (
        ("advengine.cli.train", "advengine.cli.train_fcn"),
        "Train learned defenses on ONNX Runtime (no deep-learning framework).",
    ),
    "serve": (
        ("advengine.cli.serve",),
        "Host a competition: teams upload submissions, only new work is evaluated, live leaderboard.",
    ),
    "submit": (
        ("advengine.cli.submit",),
        "Upload a submission; a rejected one is refused at once with its reason.",
    ),
    "team": (("advengine.cli.team",), "The teams of a competition that `advengine serve` hosts."),
    "verify": (
        ("advengine.cli.verify",),
        "Check a finished run without running anything: every record's HMAC (with the run's key), the "
        "stored images against their hashes and ε-balls (with the dataset), the labels against theirs, "
        "and the Ed25519-signed digest.",
    ),
}


def registered(app: typer.Typer, name: str) -> Any:
    """The click command that ``app`` has registered as ``name`` (a command or a group), built the way
    typer builds the root group's own commands; None when no imported module registered it."""
    for info in app.registered_commands:
        callback = info.callback
        if callback is not None and (info.name or typer.main.get_command_name(callback.__name__)) == name:
            return typer.main.get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
    for group in app.registered_groups:
        if group.name == name:
            return typer.main.get_group_from_info(
                group,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands,
            )
    return None


def lazy_group(app: Callable[[], typer.Typer]) -> type[TyperGroup]:
    """The root group's class: it lists :data:`COMMANDS` and imports each on first use. ``app`` gives the
    typer app the command modules register on (a function: the app is made with this class)."""

    class LazyGroup(TyperGroup):
        #: Set while the root help is written: commands not imported yet show their line from COMMANDS.
        _listing = False

        def list_commands(self, ctx: Any) -> list[str]:
            return list(dict.fromkeys([*COMMANDS, *self.commands]))

        def get_command(self, ctx: Any, cmd_name: str) -> Any:
            if cmd_name not in self.commands and cmd_name in COMMANDS:
                modules, line = COMMANDS[cmd_name]
                if self._listing:
                    return TyperCommand(cmd_name, help=line, short_help=line)
                for module in modules:
                    importlib.import_module(module)
                command = registered(app(), cmd_name)
                if command is not None:
                    self.commands[cmd_name] = command
            return self.commands.get(cmd_name)

        def format_help(self, ctx: Any, formatter: Any) -> None:
            self._listing = True
            try:
                super().format_help(ctx, formatter)
            finally:
                self._listing = False

    return LazyGroup


__all__ = ["COMMANDS", "lazy_group", "registered"]
