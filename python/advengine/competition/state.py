"""The run directory: layout, per-piece records and the resume fingerprint.

Layout of ``--out``::

    run.json                          fingerprint: resolved config + dataset hash (resume refuses others)
    adv/<attack>/<ImageId>.png        projected adversarial images
    pieces/attack/<attack>/bNNNN.json                one record per finished attack piece
    pieces/defense/<defense>/<attack|clean>/bNNNN.json  one record per finished defense piece
    results.json, records.csv, leaderboard.md, the DEVKIT CSVs

A piece counts as done only when its record exists; the record is written (temp file + rename)
after the piece's images, so a run killed at any moment loses at most the pieces in flight.
"""

from __future__ import annotations

import hashlib
import json
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
from advengine.errors import ConfigError

RUN_FILE = "run.json"


def digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class RunDir:
    """Paths inside one run directory, and its piece records."""

    def __init__(self, root: Path) -> None:
        self.root = root

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

    def read_attack(self, piece: PieceId) -> tuple[AttackRecord | None, str | None]:
        """The attack piece's record, or None with why it is not valid (see :func:`read_record`)."""
        return read_record(self.record_path(piece), AttackRecord)

    def read_defense(self, piece: PieceId) -> tuple[DefenseRecord | None, str | None]:
        return read_record(self.record_path(piece), DefenseRecord)

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
        save(self.record_path(piece), record)

    def prepare(self, fingerprint: dict[str, Any], *, resume: bool) -> bool:
        """Create or reopen the run dir; returns True when resuming earlier work."""
        run_file = self.root / RUN_FILE
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--out {self.root} is a file; give a directory")
        entries = list(self.root.iterdir()) if self.root.is_dir() else []
        if entries and not resume:
            raise ConfigError(
                f"--out {self.root} is not empty; add --resume to continue that run, "
                "or choose another directory"
            )
        if entries:
            if not run_file.is_file():
                raise ConfigError(
                    f"--out {self.root} holds no {RUN_FILE}, so it is not an advengine eval run"
                )
            try:
                old = read_json(run_file)
            except (OSError, ValueError, RecursionError) as exc:  # empty, truncated, not JSON
                why = " ".join(str(exc).split())[:120]
                raise ConfigError(
                    f"--resume: {run_file} is unreadable ({why}), so this run cannot be checked against "
                    f"the config; start again with a new --out (or remove {self.root})"
                ) from None
            if not isinstance(old, dict) or old.get("fingerprint") != digest(fingerprint):
                raise ConfigError(
                    f"--resume: {self.root} was started with a different config or dataset; "
                    "rerun with the same config and flags, or use a new --out"
                )
            return True
        self.root.mkdir(parents=True, exist_ok=True)
        save(run_file, {"fingerprint": digest(fingerprint), "config": fingerprint})
        return False


__all__ = ["RUN_FILE", "RunDir", "digest"]
