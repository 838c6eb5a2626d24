"""Server-rendered pages (Jinja), readable without JavaScript; where it runs, a few lines poll the
JSON API and reload a page when its data changed. The leaderboard has report.html's columns: its
rows come from the report's own table code (:func:`advengine.reporting.tables.leaderboard`).

Pages know the caller by a cookie set from the team page's token form (HttpOnly, SameSite=Strict,
so another site cannot post with it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from advengine.reporting.rundir import load_run
from advengine.reporting.tables import Row
from advengine.reporting.tables import leaderboard as table_rows
from advengine.server.board import Published
from advengine.server.service import (
    TRACKS,
    RefusedError,
    Server,
    describe,
    published,
    queue,
    results_of,
    team_submissions,
    upload,
)
from advengine.server.teams import Caller, identify

COOKIE = "advengine_token"
_TRACK_TITLES = {"defense": "Defenses", "nontargeted": "Non-targeted attacks", "targeted": "Targeted attacks"}

_env = Environment(loader=PackageLoader("advengine.server", "templates"), autoescape=select_autoescape())


def _render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context), status_code=status)


def _rows(server: Server, round_name: str) -> dict[str, list[Row]]:
    """report.html's leaderboard rows per track, from the round's run dir as it is now."""
    run = server.settings.state / "rounds" / round_name
    if not (run / "results.json").is_file():
        return {}
    view = load_run(run)
    return {track: table_rows(view, track) for track in _TRACK_TITLES}


def _against(server: Server, sub: dict[str, Any]) -> list[dict[str, Any]]:
    """The submission's counts against each opponent, from the round's result matrices."""
    results = results_of(server, sub["round"])
    if results is None:
        return []
    m, label = results.matrices, sub["label"]
    out = []
    if sub["track"] == "defense" and label in m.defenses:
        d = m.defenses.index(label)
        for a, name in enumerate(m.attacks):
            out.append(
                {"opponent": name, "count": m.correct[a][d], "of": m.classified[a][d], "what": "correct"}
            )
    elif label in m.attacks:
        a = m.attacks.index(label)
        counts, what = (m.hit, "hit target") if sub["track"] == "targeted-attack" else (m.error, "fooled")
        for d, name in enumerate(m.defenses):
            out.append({"opponent": name, "count": counts[a][d], "of": m.classified[a][d], "what": what})
    return out


def add_pages(app: FastAPI, server: Server) -> None:
    rounds = list(server.settings.rounds())

    def who(request: Request) -> Caller:
        return identify(server.sessions, request.cookies.get(COOKIE), server.organiser_token)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/leaderboard", status_code=303)

    #: The leaderboard page of each round, rendered once per published version (board.py).
    rendered: dict[str, tuple[str, bytes]] = {}

    def render_board(board: Published) -> bytes:
        found = rendered.get(board.round)
        if found is not None and found[0] == board.version:
            return found[1]
        rows = _rows(server, board.round)
        html = _env.get_template("leaderboard.html").render(
            round=board.round,
            rounds=rounds,
            scored=board.board["scored"],
            version=board.version,
            tracks=[(t, _TRACK_TITLES[t], rows.get(t, [])) for t in _TRACK_TITLES],
        )
        rendered[board.round] = (board.version, html.encode())
        return rendered[board.round][1]

    @app.get("/leaderboard", response_class=HTMLResponse, include_in_schema=False)
    def leaderboard_page(round: str | None = None) -> HTMLResponse:
        return HTMLResponse(render_board(published(server, round)))

    @app.get("/rounds/{name}", response_class=HTMLResponse, include_in_schema=False)
    def round_page(name: str) -> HTMLResponse:
        if name not in rounds:
            raise RefusedError(404, f"no round {name!r}")
        report = (server.settings.state / "rounds" / name / "report.html").is_file()
        return _render("round.html", round=name, rounds=rounds, report=report, queue=queue(server))

    @app.get("/rounds/{name}/report.html", include_in_schema=False)
    def round_report(name: str) -> FileResponse:
        path = server.settings.state / "rounds" / name / "report.html"
        if name not in rounds or not path.is_file():
            raise RefusedError(404, f"round {name!r} has no report yet")
        return FileResponse(path, media_type="text/html")

    @app.get("/queue", response_class=HTMLResponse, include_in_schema=False)
    def queue_page() -> HTMLResponse:
        return _render("queue.html", rounds=rounds, queue=queue(server))

    @app.get("/submissions/{sub_id}", response_class=HTMLResponse, include_in_schema=False)
    def submission_page(request: Request, sub_id: int) -> HTMLResponse:
        sub = describe(server, who(request), sub_id)
        return _render("submission.html", rounds=rounds, sub=sub, against=_against(server, sub))

    @app.get("/team", response_class=HTMLResponse, include_in_schema=False)
    def team_page(request: Request) -> HTMLResponse:
        caller = who(request)
        subs = team_submissions(server, caller.team_id) if caller.team_id is not None else []
        return _render("team.html", rounds=rounds, caller=caller, subs=subs, tracks=list(TRACKS), error=None)

    @app.post("/team/login", include_in_schema=False)
    def login(token: Annotated[str, Form()]) -> Response:
        caller = identify(server.sessions, token, server.organiser_token)
        if caller.team_id is None and not caller.organiser:
            return _render(
                "team.html",
                401,
                rounds=rounds,
                caller=caller,
                subs=[],
                tracks=list(TRACKS),
                error="unknown token",
            )
        response = RedirectResponse("/team", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.post("/team/upload", include_in_schema=False)
    async def upload_form(
        request: Request,
        file: Annotated[UploadFile, File()],
        track: Annotated[str, Form()],
        round: Annotated[str | None, Form()] = None,
    ) -> Response:
        caller = who(request)
        try:
            sub = await run_in_threadpool(upload, server, caller, track, round, file.filename, file.file)
        except RefusedError as exc:
            subs = team_submissions(server, caller.team_id) if caller.team_id is not None else []
            return _render(
                "team.html",
                exc.status,
                rounds=rounds,
                caller=caller,
                subs=subs,
                tracks=list(TRACKS),
                error=str(exc),
            )
        return RedirectResponse(f"/submissions/{sub.id}", status_code=303)


__all__ = ["COOKIE", "add_pages"]
