"""The root typer app and the factory every command group uses, so all groups behave alike."""

from __future__ import annotations

from typing import Annotated

import typer

from advengine import __version__
from advengine.cli._lazy import lazy_group

CONTEXT = {"help_option_names": ["-h", "--help"]}
#: Help text is plain text: with rich markup on, "[default: …]" and "advengine[ray]" in help strings
#: were taken for markup tags and vanished (tests/cli/test_help.py renders every --help).
MARKUP = None


def sub_app(help_text: str) -> typer.Typer:
    """A command group with the project's shared settings."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings=CONTEXT,
        add_completion=False,
        rich_markup_mode=MARKUP,
    )


app: typer.Typer = typer.Typer(
    name="advengine",
    # Each command's module is imported when the command runs, not at start-up (cli/_lazy.py).
    cls=lazy_group(lambda: app),
    help="Run adversarial attack and defense competitions on ONNX image classifiers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    add_completion=False,
    rich_markup_mode=MARKUP,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"advengine {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Run adversarial attack and defense competitions on ONNX image classifiers."""
