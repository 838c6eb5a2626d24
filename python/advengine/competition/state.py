"""The run directory: layout, per-piece records, the resume fingerprint, the run key and the lock.

Layout of ``--out``::

    run.json                          format, run id, fingerprint (resolved config + dataset hash), HMAC
    .lock                             flock'd by the one eval writing the dir; holds its pid
    adv/<attack>/<ImageId>.png        projected adversarial images
    pieces/attack/<attack>/bNNNN.json                one record per finished attack piece
    pieces/defense/<defense>/<attack|clean>/bNNNN.json  one record per finished defense piece
    results.json, records.csv, leaderboard.md, the DEVKIT CSVs
    signature.json                    Ed25519-signed digest of run.json, results.json and every record

A piece counts as done only when its record exists; the record is written (temp file + rename)
after the piece's images, so a run killed at any moment loses at most the pieces in flight.

Every record and run.json carry ``hmac``: HMAC-SHA256 with the run's key (kept outside the run dir,
:mod:`advengine.competition.keys`) over the canonical bytes of the file without ``hmac``; a record's
MAC also covers the run id and run.json's fingerprint, so a record cannot move to another run and
run.json cannot be swapped under the records (docs/records.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from advengine.competition.artefacts import (
    AttackRecord,
    DefenseRecord,
    PieceId,
    PieceRecord,
    load_record,
    read_json,
    read_record,
    save,
)
from advengine.competition.keys import (
    RunKey,
    create_run_key,
    default_key_dir,
    load_run_key,
    new_run_id,
    public_hex,
    sign,
    signing_key,
)
from advengine.errors import ConfigError

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
SIGNATURE_FILE = "signature.json"
#: 2: run.json has ``format``, ``run_id`` and ``hmac``; records have ``hmac``. 1 (no ``format``): none.
FORMAT = 2
SIGNATURE_SCHEMA = "advengine.signature/1"
#: Incremental runs (``Competition.incremental``): the definition each entry last ran with.
ENTRIES_FILE = "entries.json"


def digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:120]


class RunDir:
    """Paths inside one run directory, its authenticated piece records and its writer's lock.

    ``key_dir`` holds the run keys (default ``$ADVENGINE_CONFIG/keys``; a server passes its state
    dir). Records are authenticated once the key is known: after :meth:`prepare` or :meth:`open_key`.
    """

    def __init__(self, root: Path, key_dir: Path | None = None) -> None:
        self.root = root
        self.key_dir = key_dir if key_dir is not None else default_key_dir()
        self.key: RunKey | None = None
        self.fingerprint_digest: str | None = None
        self._lock_fd: int | None = None

    def adv_image(self, attack: str, image_id: str) -> Path:
        return self.root / "adv" / attack / f"{image_id}.png"

    def record_path(self, piece: PieceId) -> Path:
        *dirs, name = piece.parts
        return self.root.joinpath("pieces", *dirs, f"{name}.json")

    def attack_record(self, attack: str, batch: int) -> AttackRecord | None:
        """The record of attack piece (``attack``, ``batch``), or None while it has not finished."""
        return load_record(self.record_path(PieceId.of_attack(attack, batch)), AttackRecord)

    def defense_record(self, defense: str, attack: str, batch: int) -> DefenseRecord | None:
        return load_record(self.record_path(PieceId.of_defense(defense, attack, batch)), DefenseRecord)

    # -- authentication -------------------------------------------------------------------------------

    def _bound(self, payload: dict[str, Any]) -> dict[str, Any]:
        # What a record's MAC covers besides the record: the run and run.json's fingerprint.
        return {
            "run_id": self.key.run_id if self.key else None,
            "fingerprint": self.fingerprint_digest,
            "record": payload,
        }

    def mac_problem(self, path: Path) -> str | None:
        """Why the record at ``path`` fails its HMAC, or None (also None while no key is known)."""
        if self.key is None:
            return None
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            return f"its record cannot be read ({_one_line(exc)})"
        if not isinstance(payload, dict):
            return "its record is not a JSON object"
        tag = payload.pop("hmac", None)
        if tag is None:
            return "its record carries no HMAC"
        if not self.key.verify(self._bound(payload), tag):
            return "its record's HMAC does not match (the record was changed, or belongs to another run)"
        return None

    def _read_checked(self, piece: PieceId, kind: type[Any]) -> tuple[Any, str | None]:
        path = self.record_path(piece)
        rec, why = read_record(path, kind)
        if rec is not None:
            why = self.mac_problem(path)
        return (rec, None) if why is None else (None, why)

    def read_attack(self, piece: PieceId) -> tuple[AttackRecord | None, str | None]:
        """The attack piece's record, or None with why it is not valid (see :func:`read_record`) or
        fails its HMAC."""
        rec, why = self._read_checked(piece, AttackRecord)
        return rec, why

    def read_defense(self, piece: PieceId) -> tuple[DefenseRecord | None, str | None]:
        rec, why = self._read_checked(piece, DefenseRecord)
        return rec, why

    def forget(self, piece: PieceId) -> None:
        """Drop a record that cannot be trusted, so the piece counts as not run until it is redone."""
        self.record_path(piece).unlink(missing_ok=True)

    def statuses(self) -> Counter[str]:
        """How many piece records the run dir holds, by status (ok, crashed, timeout); a record that
        cannot be read counts as "unreadable" (resume redoes it)."""
        counts: Counter[str] = Counter()
        for path in sorted((self.root / "pieces").rglob("*.json")):
            try:
                status = json.loads(path.read_text(encoding="utf-8")).get("status")
            except (OSError, ValueError, AttributeError):
                status = None
            counts[status if isinstance(status, str) else "unreadable"] += 1
        return counts

    def save_record(self, piece: PieceId, record: PieceRecord) -> None:
        payload: dict[str, Any] = record.model_dump(by_alias=True)
        if self.key is not None:
            payload["hmac"] = self.key.mac(self._bound(payload))
        save(self.record_path(piece), payload)

    # -- run.json -------------------------------------------------------------------------------------

    def read_run_file(self) -> dict[str, Any]:
        """run.json as a JSON object; :class:`ConfigError` when it is missing, unreadable or not one."""
        run_file = self.root / RUN_FILE
        if not run_file.is_file():
            raise ConfigError(f"{self.root} holds no {RUN_FILE}, so it is not an advengine eval run")
        try:
            old = read_json(run_file)
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # empty, truncated
            raise ConfigError(f"{run_file} is unreadable ({_one_line(exc)})") from None
        if not isinstance(old, dict):
            raise ConfigError(f"{run_file} is not a JSON object; it is not an advengine eval run file")
        return old

    def open_key(self, run: dict[str, Any]) -> str | None:
        """Check run.json (``run``, as read) against its run's key and remember the key; returns why
        the records cannot be authenticated (old format, key not here), or None. A run.json whose
        HMAC fails raises :class:`ConfigError`: nothing in the dir can be trusted then."""
        if run.get("format") != FORMAT:
            return (
                f"{RUN_FILE} is format {run.get('format', 1)}, from before authenticated records "
                f"(this advengine writes format {FORMAT})"
            )
        run_id = run.get("run_id")
        if not isinstance(run_id, str):
            raise ConfigError(f"{self.root / RUN_FILE} has no run_id; it was changed")
        key = load_run_key(self.key_dir, run_id)
        if key is None:
            return f"the key of run {run_id} is not in {self.key_dir}"
        unsigned = {k: v for k, v in run.items() if k != "hmac"}
        if not key.verify(unsigned, run.get("hmac")):
            raise ConfigError(
                f"{self.root / RUN_FILE} fails its HMAC: it was changed or copied from another run; "
                "this run dir cannot be trusted, start again with a new --out"
            )
        self.key, self.fingerprint_digest = key, str(run.get("fingerprint"))
        return None

    # -- one writer -----------------------------------------------------------------------------------

    def lock(self) -> None:
        """Take the run dir's exclusive lock (flock on ``.lock``), or refuse naming its holder's pid."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"--out {self.root} is being written by another advengine eval (pid {holder}); "
                "wait for it to end, or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            # LOCK_UN first: a forked child sharing the descriptor must not keep the dir locked.
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- start or resume ------------------------------------------------------------------------------

    def sync_entries(self, entries: dict[str, Any]) -> list[str]:
        """Record each entry's definition (label → its ``to_json``) and drop every record of an entry
        whose definition changed since it last ran here; returns those labels. An entry that left
        the roster keeps its records (the scores read only the roster's), so it costs nothing to
        bring back unchanged."""
        path = self.root / ENTRIES_FILE
        old: dict[str, str] = read_json(path) if path.is_file() else {}
        new = {label: digest(spec) for label, spec in entries.items()}
        changed = sorted(k for k, v in new.items() if k in old and old[k] != v)
        for label in changed:
            for where in (("pieces", "attack", label), ("pieces", "defense", label), ("adv", label)):
                shutil.rmtree(self.root.joinpath(*where), ignore_errors=True)
        save(path, {**old, **new})
        return changed

    def prepare(self, fingerprint: dict[str, Any], *, resume: bool, key: Any = None) -> bool:
        """Lock, then create or reopen the run dir; returns True when resuming earlier work. The
        caller releases the lock with :meth:`unlock` (this method does so when it refuses).

        ``key`` (default: the whole fingerprint) is the part a resumed run must share: run.json's
        ``fingerprint`` is its digest, and every record's HMAC is bound to that. When given,
        run.json's ``config`` is rewritten (same run id, key and fingerprint) on every start: an
        incremental run's roster grows while its records stay valid."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--out {self.root} is a file; give a directory")
        if not resume:
            self._refuse_non_empty()  # before the lock file is made: a wrong --out is left untouched
        self.lock()
        try:
            return self._prepare(fingerprint, resume=resume, key=key)
        except BaseException:
            self.unlock()
            raise

    def _entries(self) -> list[Path]:
        return [e for e in self.root.iterdir() if e.name != LOCK_FILE] if self.root.is_dir() else []

    def _refuse_non_empty(self) -> None:
        if self._entries():
            raise ConfigError(
                f"--out {self.root} is not empty; add --resume to continue that run, "
                "or choose another directory"
            )

    def _prepare(self, fingerprint: dict[str, Any], *, resume: bool, key: Any) -> bool:
        checked = digest(fingerprint if key is None else key)
        if not resume:
            self._refuse_non_empty()  # again, under the lock: another eval may have started since
        entries = self._entries()
        if entries:
            try:
                old = self.read_run_file()
            except ConfigError as exc:
                raise ConfigError(
                    f"--resume: {exc}, so this run cannot be checked against the config; "
                    f"start again with a new --out (or remove {self.root})"
                ) from None
            why = self.open_key(old)
            if why is not None:
                raise ConfigError(
                    f"--resume: {why}, so its records cannot be authenticated; finish it with the "
                    "key dir (or advengine version) it was started with, or start again with a new --out"
                )
            if old.get("fingerprint") != checked:
                raise ConfigError(
                    f"--resume: {self.root} was started with a different config or dataset; "
                    "rerun with the same config and flags, or use a new --out"
                )
            if key is not None:
                self._write_run_file(str(old["run_id"]), checked, fingerprint)
            return True
        run_id = new_run_id()
        self.key = create_run_key(self.key_dir, run_id)
        self._write_run_file(run_id, checked, fingerprint)
        return False

    def _write_run_file(self, run_id: str, checked: str, config: dict[str, Any]) -> None:
        assert self.key is not None
        self.fingerprint_digest = checked
        run: dict[str, Any] = {"format": FORMAT, "run_id": run_id, "fingerprint": checked, "config": config}
        run["hmac"] = self.key.mac(run)
        save(self.root / RUN_FILE, run)

    # -- publication ----------------------------------------------------------------------------------

    def signed_files(self) -> list[Path]:
        """What the signature covers: run.json, results.json and every piece record."""
        records = sorted((self.root / "pieces").rglob("*.json"))
        return [self.root / RUN_FILE, self.root / "results.json", *records]

    def sign(self) -> None:
        """Write signature.json: sha256 of every signed file, Ed25519-signed with the key dir's key."""
        key = signing_key(self.key_dir)
        payload: dict[str, Any] = {
            "schema": SIGNATURE_SCHEMA,
            "run_id": self.key.run_id if self.key else None,
            "public_key": public_hex(key),
            "files": {
                p.relative_to(self.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in self.signed_files()
            },
        }
        payload["signature"] = sign(key, payload)
        save(self.root / SIGNATURE_FILE, payload)


__all__ = ["ENTRIES_FILE", "FORMAT", "LOCK_FILE", "RUN_FILE", "SIGNATURE_FILE", "RunDir", "digest"]
