"""``advengine list``: every attack and defense with its parameters and defaults."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from advengine.api import components
from advengine.cli._app import app


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
) -> None:
    """List the registered attacks and defenses, their parameters and published defaults."""
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
            typer.echo(f"  {item['name']}{tag}: {item['description']}")
            for p in item["params"]:
                typer.echo(f"      {p['name']} ({p['type']}) = {p['default']}")
