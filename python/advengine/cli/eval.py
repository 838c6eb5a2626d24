"""``advengine eval``: runs a whole competition. The engine lands with its own issue."""

from __future__ import annotations

from advengine.cli._app import app
from advengine.errors import NotYetAvailableError


@app.command("eval")
def eval_command() -> None:
    """Run a whole competition (attacks x defenses) and score it. Not yet available."""
    raise NotYetAvailableError(
        "advengine eval is not yet available: the competition engine has not landed; "
        "use `advengine models verify` and `advengine data verify` meanwhile"
    )
