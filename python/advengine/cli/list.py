"""``advengine list``: every attack and defense with its parameters and defaults."""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer

from advengine.api import components
from advengine.cli._app import app


def _summary(description: str, width: int = 100) -> str:
    """The first sentence of a description, cut at ``width`` characters."""
    first = re.split(r"(?<=[a-z0-9)\]])\. (?=[A-Z])", description, maxsplit=1)[0].rstrip(".")
    return first if len(first) <= width else first[: width - 1].rstrip() + "…"


@app.command("list")
def list_command(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Also the full description and every parameter with its default."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
) -> None:
    """List the registered attacks and defenses: one line each; --verbose adds their parameters and
    published defaults."""
    catalogue = components()
    if as_json:
        typer.echo(json.dumps(catalogue, indent=2))
        return
    for kind in ("attacks", "defenses"):
        typer.echo(f"{kind}:")
        for item in catalogue[kind]:
            tag = (
                f" [{item['track']}]"
                if "track" in item
                else (" [randomized]" if item.get("randomized") else "")
            )
            if not verbose:
                typer.echo(f"  {item['name']}{tag}: {_summary(item['description'])}")
                continue
            typer.echo(f"  {item['name']}{tag}: {item['description']}")
            for p in item["params"]:
                typer.echo(f"      {p['name']} ({p['type']}) = {p['default']}")
            if item.get("pipeline_params"):
                names = ", ".join(p["name"] for p in item["pipeline_params"])
                typer.echo(f"      the defense attacked (filled by audit and source_defense): {names}")
    if not verbose:
        typer.echo("(advengine list --verbose for the parameters)")
