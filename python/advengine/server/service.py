"""What the API and the pages do, once: take an upload, describe a submission, read a round's
leaderboard, list the queue. Each function takes the server's :class:`Server` and plain values and
raises :class:`RefusedError` (an HTTP status and one line) for anything the caller must fix."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from advengine.competition.artefacts import Results, read_json
from advengine.errors import AdvEngineError, ServerError
from advengine.server.board import Boards, Published, UnknownRoundError
from advengine.server.db import QUEUED, REJECTED, TERMINAL, Released, RoundLease, Submission, Team, now
from advengine.server.pieces import counts as piece_counts
from advengine.server.pieces import empty_counts as piece_counts_empty
from advengine.server.roster import live, round_config
from advengine.server.settings import ServerSettings
from advengine.server.storage import Blobs, TooLargeError
from advengine.server.teams import Caller
from advengine.server.testround import Checked, check_images, check_labels
from advengine.server.testround import release as release_images
from advengine.submissions.adapter import settings_of
from advengine.submissions.archive import SUFFIXES, read_metadata
from advengine.submissions.reaper import release, temp_dir
from advengine.submissions.roster import make_entry
from advengine.submissions.validate import validate_submission
from advengine.types import SubmissionTable

#: The tracks as the API names them → metadata.json's ``type``.
TRACKS = {"attack": "attack", "targeted-attack": "targeted_attack", "defense": "defense"}
#: Submission names become part of roster labels (``<team>.<name>``).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class RefusedError(ServerError):
    """A request the server refuses: an HTTP status and one line saying what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Server:
    settings: ServerSettings
    sessions: sessionmaker[Session]
    organiser_token: str
    blobs: Blobs
    boards: Boards


def _clean_filename(raw: str | None, suffixes: tuple[str, ...] = SUFFIXES) -> tuple[str, str]:
    """(name, suffix) of a multipart file name; anything with a directory part is refused, never
    cleaned up into something else."""
    if not raw:
        raise RefusedError(400, "the upload has no file name; send the file as the multipart field 'file'")
    if raw != PurePosixPath(raw).name or raw != PureWindowsPath(raw).name or raw in (".", ".."):
        raise RefusedError(400, f"file name {raw!r} has a directory part; send the bare file name")
    suffix = next((x for x in suffixes if raw.lower().endswith(x)), None)
    if suffix is None:
        raise RefusedError(400, f"file name {raw!r} is not one of {', '.join(suffixes)}")
    name = raw[: -len(suffix)]
    if not NAME_PATTERN.match(name):
        raise RefusedError(
            400, f"submission name {name!r} must be 1-32 letters, digits, '_' or '-'; rename the file"
        )
    return name, suffix


def _day_start() -> dt.datetime:
    t = now()
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def upload(
    server: Server, caller: Caller, track: str, round_name: str | None, filename: str | None, body: BinaryIO
) -> Submission:
    """Store, validate and queue one code submission of ``caller``'s team."""
    if caller.team_id is None:
        raise RefusedError(
            401 if not caller.organiser else 403, "submitting needs a team token (advengine team add)"
        )
    if track not in TRACKS:
        raise RefusedError(400, f"--track must be one of {', '.join(TRACKS)}, got {track!r}")
    rounds = server.settings.rounds()
    round_name = round_name or next(iter(rounds))
    if round_name not in rounds:
        raise RefusedError(404, f"no round {round_name!r}; rounds: {', '.join(rounds)}")
    cfg = rounds[round_name]
    uploads = cfg.round_mode == "uploads"
    labels = uploads and track == "defense"
    name, suffix = _clean_filename(filename, (".csv",) if labels else SUFFIXES)
    if uploads:
        with server.sessions() as s:
            lease = s.get(RoundLease, round_name)
            closed = lease is not None and lease.attack_closed
        if closed and not labels:
            raise RefusedError(409, f"round {round_name}'s attack phase is closed; no more images")
        if labels and not closed:
            raise RefusedError(409, f"round {round_name}'s attack phase is still open; labels come after it")
    with server.sessions() as s:
        used = s.scalar(
            select(func.count(Submission.id)).where(
                Submission.team_id == caller.team_id,
                Submission.charged.is_(True),
                Submission.created_at >= _day_start(),
            )
        )
    if (used or 0) >= server.settings.daily_quota:
        raise RefusedError(
            429, f"daily quota of {server.settings.daily_quota} submissions used; try again after 00:00 UTC"
        )
    try:
        digest, path = server.blobs.put(body, suffix, server.settings.max_upload)
    except TooLargeError as exc:
        raise RefusedError(413, str(exc)) from None
    sub = Submission(
        team_id=caller.team_id,
        round=round_name,
        track=track,
        name=name,
        digest=digest,
        blob=str(path.relative_to(server.settings.state)),
        pieces_done=0,
        pieces_total=0,
    )
    notes = None
    if not uploads:
        reason = _check(server, path, track, round_name, f"{caller.team_name}.{name}")
    else:
        checked = _check_upload(server, path, round_name, digest, labels)
        notes = checked.summary()
        reason = None if checked.accepted else (notes or "nothing in the upload could be used")
    sub.reason = notes
    with server.sessions.begin() as s:
        if reason is not None:
            sub.state, sub.reason, sub.charged = REJECTED, reason, False
            s.add(sub)
        else:
            s.execute(
                update(Submission)
                .where(
                    Submission.team_id == caller.team_id,
                    Submission.round == round_name,
                    Submission.name == name,
                )
                .values(replaced=True)
            )
            sub.state = QUEUED
            s.add(sub)
            s.execute(update(RoundLease).where(RoundLease.name == round_name).values(dirty=True))
    return sub


def upload_dir(server: Server, round_name: str, digest: str) -> Path:
    """Where a test round's upload lives once checked: images as ``<clean key>.png``, labels as
    ``labels.json``; named by the upload's content."""
    return server.settings.state / "uploads" / round_name / digest


def _check_upload(server: Server, path: Path, round_name: str, digest: str, labels: bool) -> Checked:
    dest = upload_dir(server, round_name, digest)
    if labels:
        return check_labels(server.sessions, round_name, path, dest / "labels.json")
    try:
        return check_images(server.settings.rounds()[round_name], path, dest)
    except AdvEngineError as exc:
        return Checked(problems=[" ".join(str(exc).split())])


def _check(server: Server, path: Path, track: str, round_name: str, label: str) -> str | None:
    """The existing validator on the stored archive: None, or the one-line reason it is rejected."""
    scratch = temp_dir("advengine-upload-")
    try:
        meta = read_metadata(path, scratch / "s")
    except AdvEngineError as exc:
        return " ".join(str(exc).split())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        release(scratch)
    if meta.track != {"attack": "nontargeted", "targeted-attack": "targeted", "defense": "defense"}[track]:
        return f"metadata.json says type {meta.type!r}, but it was submitted to the {track} track"
    cfg = server.settings.rounds()[round_name]
    entry = make_entry(SubmissionTable(path=str(path), label=label), "upload", "file")
    entry = entry.model_copy(
        update={"settings": entry.settings.model_copy(update={"sandbox": server.settings.sandbox})}
    )
    settings = settings_of(entry.for_run(min(cfg.time_limit, 120.0), ""))
    report = validate_submission(path, settings, images=2)
    if report.valid:
        return None
    return " ".join(report.errors[0].split())[:500] if report.errors else "invalid submission"


def _tail(paths: list[Path], limit: int = 4000) -> str:
    chunks = []
    for p in paths:
        data = p.read_bytes()[-limit:]
        chunks.append(f"== {p.name}\n{data.decode('utf-8', 'replace')}")
    return "\n".join(chunks)[-limit:]


def logs_of(server: Server, sub: Submission) -> str:
    root = server.settings.state / "rounds" / sub.round / "logs"
    found = [p for kind in ("attack", "defense") for p in (root / kind / sub.label).rglob("*") if p.is_file()]
    found.sort(key=lambda p: p.stat().st_mtime)
    return _tail(found[-3:])


def describe(server: Server, caller: Caller, sub_id: int) -> dict[str, Any]:
    """A submission as ``GET /api/submissions/{id}`` returns it; its logs only to its own team and
    the organiser."""
    with server.sessions() as s:
        sub = s.get(Submission, sub_id)
        if sub is None:
            raise RefusedError(404, f"no submission {sub_id}")
        out: dict[str, Any] = {
            "id": sub.id,
            "team": sub.team.name,
            "round": sub.round,
            "track": sub.track,
            "name": sub.name,
            "label": sub.label,
            "digest": sub.digest,
            "state": sub.state,
            "reason": sub.reason,
            "terminal": sub.state in TERMINAL,
            "pieces_done": sub.pieces_done,
            "pieces_total": sub.pieces_total,
            "replaced": sub.replaced,
            "charged": sub.charged,
            "created_at": sub.created_at.isoformat(),
        }
        if caller.can_read(sub.team_id):
            out["logs_tail"] = logs_of(server, sub)
        return out


def results_of(server: Server, round_name: str) -> Results | None:
    path = server.settings.state / "rounds" / round_name / "results.json"
    return Results.model_validate(read_json(path)) if path.is_file() else None


def published(server: Server, round_name: str | None) -> Published:
    """The round's leaderboard as published (:mod:`advengine.server.board`): built once per
    scoring, so reads during an evaluation stay cheap."""
    try:
        return server.boards.get(round_name)
    except UnknownRoundError as exc:
        raise RefusedError(404, str(exc)) from None


def leaderboard(server: Server, round_name: str | None) -> dict[str, Any]:
    """The round's scores in results.json's shape (per track, entries with name, team, score)."""
    return published(server, round_name).board


def queue(server: Server) -> dict[str, Any]:
    """Every submission not yet terminal, oldest first, and each round's evaluation lease and its
    pieces' leases."""
    modes = {name: cfg.round_mode for name, cfg in server.settings.rounds().items()}
    with server.sessions() as s:
        waiting = s.scalars(
            select(Submission).where(Submission.state.not_in(TERMINAL)).order_by(Submission.id)
        ).all()
        rounds = s.scalars(select(RoundLease).order_by(RoundLease.name)).all()
        pieces = piece_counts(s)
        return {
            "submissions": [
                {
                    "id": w.id,
                    "team": w.team.name,
                    "round": w.round,
                    "track": w.track,
                    "name": w.name,
                    "state": w.state,
                    "pieces_done": w.pieces_done,
                    "pieces_total": w.pieces_total,
                }
                for w in waiting
            ],
            "rounds": [
                {
                    "name": r.name,
                    "dirty": r.dirty,
                    "evaluating": r.owner is not None,
                    "heartbeat_at": r.heartbeat_at.isoformat() if r.heartbeat_at else None,
                    "scored_at": r.scored_at.isoformat() if r.scored_at else None,
                    "mode": modes.get(r.name, "code"),
                    "attack_closed": r.attack_closed,
                    # The pieces' leases: per state, and the platform's losses re-queued.
                    "pieces": pieces.get(r.name, piece_counts_empty()),
                }
                for r in rounds
            ],
        }


def close_attack_phase(server: Server, caller: Caller, round_name: str) -> dict[str, Any]:
    """The organiser closes a test round's attack phase once its attacks are evaluated: every
    attack's images and the clean ones are released under opaque ids."""
    if not caller.organiser:
        raise RefusedError(
            401 if caller.team_id is None else 403, "closing a phase needs the organiser token"
        )
    rounds = server.settings.rounds()
    if round_name not in rounds:
        raise RefusedError(404, f"no round {round_name!r}; rounds: {', '.join(rounds)}")
    cfg = rounds[round_name]
    if cfg.round_mode != "uploads":
        raise RefusedError(
            409, f"round {round_name} takes code, not uploads: it has no attack phase to close"
        )
    with server.sessions() as s:
        lease = s.get(RoundLease, round_name)
        pending = s.scalar(
            select(func.count(Submission.id)).where(
                Submission.round == round_name, Submission.state.not_in(TERMINAL)
            )
        )
        subs = live(s, round_name)
        full = round_config(cfg, subs, server.settings.state, server.settings.sandbox)
    if lease is None or lease.attack_closed:
        raise RefusedError(409, f"round {round_name}'s attack phase is already closed")
    if pending or lease.dirty or lease.owner is not None or lease.scored_at is None:
        raise RefusedError(
            409, f"round {round_name} is still evaluating its attacks; close it when the queue is empty"
        )
    run = server.settings.state / "rounds" / round_name
    zipped = release_images(server.sessions, round_name, run, full)
    with server.sessions.begin() as s:
        s.execute(update(RoundLease).where(RoundLease.name == round_name).values(attack_closed=True))
        count = s.scalar(select(func.count(Released.opaque_id)).where(Released.round == round_name))
    return {
        "round": round_name,
        "released": count,
        "archive": f"/api/rounds/{round_name}/released",
        "bytes": zipped.stat().st_size,
    }


def released_archive(server: Server, caller: Caller, round_name: str) -> Path:
    """The released images of a closed test round (teams and the organiser only)."""
    if caller.team_id is None and not caller.organiser:
        raise RefusedError(401, "the released images need a team token")
    path = server.settings.state / "rounds" / round_name / "released.zip"
    if round_name not in server.settings.rounds() or not path.is_file():
        raise RefusedError(404, f"round {round_name!r} has released no images (yet)")
    return path


def team_submissions(server: Server, team_id: int) -> list[Submission]:
    with server.sessions() as s:
        return list(
            s.scalars(select(Submission).where(Submission.team_id == team_id).order_by(Submission.id.desc()))
        )


def team_name(server: Server, team_id: int) -> str:
    with server.sessions() as s:
        team = s.get(Team, team_id)
        return team.name if team else "?"


__all__ = [
    "TRACKS",
    "RefusedError",
    "Server",
    "close_attack_phase",
    "describe",
    "leaderboard",
    "published",
    "queue",
    "released_archive",
    "results_of",
    "team_submissions",
    "upload",
]
