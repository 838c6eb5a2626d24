"""``advengine serve``: host a competition (docs/server.md); with no arguments, a demo of the bundled
sample with the zoo baselines entered."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer

from advengine.cli._app import app
from advengine.cli._options import stderr_console
from advengine.competition import load_config
from advengine.errors import ConfigError

#: ``advengine.server.settings``'s defaults, repeated here so that the CLI does not import the server
#: (FastAPI, SQLAlchemy) for every command; tests/cli/test_serve.py checks they agree.
DEFAULT_MAX_UPLOAD = 256 << 20
DEFAULT_DAILY_QUOTA = 20

StateOption = Annotated[
    Path, typer.Option("--state", help="Server state: uploads, run dirs, the SQLite database, tokens.")
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL, e.g. postgresql+psycopg://user@host/db [default: SQLite in --state]."
    ),
]


@app.command("serve")
def serve_command(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Competition TOML [default: the demo, the bundled sample competition]."
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Dataset dir (images/ + dev_dataset.csv).")
    ] = None,
    state: StateOption = Path("advengine-state"),
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    executor: Annotated[
        Literal["local", "ray"],
        typer.Option("--executor", help="Where pieces run: local worker processes or Ray tasks."),
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="With --executor ray: the cluster to join.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (or Ray CPUs).")] = 1,
    max_upload: Annotated[
        int, typer.Option("--max-upload", min=1, help="Largest upload in bytes; bigger ones are cut.")
    ] = DEFAULT_MAX_UPLOAD,
    quota: Annotated[
        int, typer.Option("--quota", min=1, help="Submissions per team per day (UTC) that count.")
    ] = DEFAULT_DAILY_QUOTA,
    sandbox: Annotated[
        str, typer.Option("--sandbox", help="Sandbox of uploaded code: auto, bwrap or docker.")
    ] = "auto",
) -> None:
    """Host a competition: teams upload submissions, only new work is evaluated, live leaderboard.

    With no arguments: the demo (the bundled sample, the zoo baselines entered, SQLite in
    ./advengine-state, http://127.0.0.1:8000).
    """
    # The server's packages are imported only when serving: every other command starts faster.
    import uvicorn

    from advengine.server import ServerSettings, create_app
    from advengine.server.tokens import ORGANISER_TOKEN

    if ray_address is not None and executor != "ray":
        raise ConfigError("--ray-address needs --executor ray")
    if sandbox not in ("auto", "bwrap", "docker"):
        raise ConfigError(f"--sandbox must be auto, bwrap or docker, got {sandbox!r}")
    cfg = load_config(config)
    if config is None:  # the demo: the default roster are the organiser's baselines
        cfg = cfg.with_roster([e.model_copy(update={"baseline": True}) for e in cfg.entries])
    cfg = cfg.overridden(dataset_dir=data.resolve() if data is not None else None)
    settings = ServerSettings(
        config=cfg,
        state=state.resolve(),
        db_url=db,
        executor=executor,
        ray_address=ray_address,
        workers=workers,
        max_upload=max_upload,
        daily_quota=quota,
        sandbox=sandbox,
    )
    application = create_app(settings)
    err = stderr_console()
    err.print(f"serving {cfg.source} at http://{host}:{port}/ (API docs at /docs)", markup=False)
    err.print(f"organiser token: {settings.state / ORGANISER_TOKEN}", markup=False)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    uvicorn.run(application, host=host, port=port, log_level="info")
