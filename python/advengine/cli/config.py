"""``advengine config``: the competition TOML's schema, for editors and CI checks of config files."""

from __future__ import annotations

import json

import typer

from advengine.cli._app import app, sub_app
from advengine.competition.config import config_schema

config_app = sub_app("Competition config files (the TOML that `advengine eval --config` reads).")
app.add_typer(config_app, name="config")


@config_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the competition TOML (every key, its type, default and allowed
    values). Attack and defense params are listed by `advengine list`."""
    typer.echo(json.dumps(config_schema(), indent=2))
