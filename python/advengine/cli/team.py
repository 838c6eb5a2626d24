"""``advengine team add/list``: the teams of a served competition and their tokens."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from advengine.cli._app import app, sub_app
from advengine.cli.serve import DbOption, StateOption
from advengine.errors import ServerError

team_app = sub_app("The teams of a competition that `advengine serve` hosts.")
app.add_typer(team_app, name="team")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@team_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Team name: letters, digits, '_' or '-'.")],
    state: StateOption,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a team and print its token, once: only its hash is stored."""
    from advengine.server.app import open_db  # the server's packages only for server commands
    from advengine.server.teams import add_team

    team, token = add_team(open_db(state, db), name)
    if as_json:
        typer.echo(json.dumps({"name": team.name, "token": token}))
        return
    typer.echo(f"team {team.name} added; its token (shown only now): {token}")


@team_app.command("list")
def list_command(state: StateOption, db: DbOption = None, as_json: JsonOption = False) -> None:
    """List the teams."""
    from advengine.server.app import open_db
    from advengine.server.teams import list_teams

    if db is None and not state.is_dir():
        # Listing reads: a mistyped --state must not become a new, empty server state.
        raise ServerError(f"--state {state}: no such directory; give the state dir of `advengine serve`")
    teams = list_teams(open_db(state, db))
    if as_json:
        typer.echo(json.dumps(teams, indent=2))
        return
    for t in teams:
        typer.echo(f"{t['name']:<32} {t['submissions']:>4} submissions  since {t['created_at']}")
    if not teams:
        typer.echo("no teams yet: advengine team add NAME --state DIR")
