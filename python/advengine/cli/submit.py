"""``advengine submit``: upload a submission to a server that ``advengine serve`` runs, and optionally
wait for its evaluation."""

from __future__ import annotations

import json
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from advengine.cli._app import app
from advengine.cli._options import stderr_console
from advengine.errors import ConfigError, ServerError

_TERMINAL = ("done", "failed", "rejected")


def _reply(response: Any) -> dict[str, Any]:
    """The JSON body of a success; a refusal becomes one line with the server's reason."""
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        detail = body.get("detail") if isinstance(body, dict) else None
        raise ServerError(f"the server refused ({response.status_code}): {detail or response.reason_phrase}")
    return body if isinstance(body, dict) else {}


def _packed(path: Path, scratch: Path) -> Path:
    """An archive of ``path``: itself, or a directory packed as ``<name>.tar.gz``."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise ConfigError(f"{path}: no such file or directory; give a submission archive or dir")
    out = scratch / f"{path.name}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for f in sorted(path.rglob("*")):
            tar.add(f, arcname=str(f.relative_to(path)), recursive=False)
    return out


@app.command("submit")
def submit_command(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="Submission archive (.zip/.tar/.tar.gz) or dir.")
    ],
    server: Annotated[str, typer.Option("--server", help="The server's URL, e.g. http://127.0.0.1:8000.")],
    token: Annotated[str, typer.Option("--token", help="Your team's token (advengine team add).")],
    track: Annotated[
        Literal["attack", "targeted-attack", "defense"], typer.Option("--track", help="The track it enters.")
    ],
    round_name: Annotated[
        str | None, typer.Option("--round", help="The round [default: the competition's first].")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until it is evaluated; exit 1 unless it ends done.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the submission's state as JSON.")] = False,
) -> None:
    """Upload a submission; a rejected one is refused at once with its reason."""
    import httpx  # the client's only use: imported when submitting

    err = stderr_console()
    headers = {"Authorization": f"Bearer {token}"}
    base = server.rstrip("/")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="advengine-submit-") as scratch,
            httpx.Client(timeout=httpx.Timeout(30.0, read=600.0)) as client,
        ):
            archive = _packed(path, Path(scratch))
            with open(archive, "rb") as fh:
                data = {"track": track, **({"round": round_name} if round_name else {})}
                body = _reply(
                    client.post(
                        f"{base}/api/submissions",
                        headers=headers,
                        data=data,
                        files={"file": (archive.name, fh)},
                    )
                )
            sub_id = body["id"]
            if not as_json:
                err.print(f"submission {sub_id} {body['state']}: {base}/submissions/{sub_id}", markup=False)
            last = None
            while wait and body.get("state") not in _TERMINAL:
                time.sleep(1.0)
                body = _reply(client.get(f"{base}/api/submissions/{sub_id}", headers=headers))
                now = (body.get("state"), body.get("pieces_done"))
                if now != last and not as_json:
                    err.print(
                        f"{body['state']}: {body['pieces_done']} of {body['pieces_total']} pieces",
                        markup=False,
                    )
                last = now
    except httpx.HTTPError as exc:
        raise ServerError(f"cannot reach {server}: {exc}; check --server") from None
    if as_json:
        typer.echo(json.dumps({k: v for k, v in body.items() if k != "logs_tail"}, indent=2))
    else:
        reason = f" ({body['reason']})" if body.get("reason") else ""
        typer.echo(f"submission {sub_id}: {body['state']}{reason}")
    if wait and body.get("state") != "done":
        raise typer.Exit(1)
