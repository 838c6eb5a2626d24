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
from pathlib import Path
from typing import Any

from advengine.competition.artefacts import (
    AttackRecord,
    DefenseRecord,
    PieceId,
    PieceRecord,
    load_record,
    read_json,
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
            old = read_json(run_file)
            if old.get("fingerprint") != digest(fingerprint):
                raise ConfigError(
                    f"--resume: {self.root} was started with a different config or dataset; "
                    "rerun with the same config and flags, or use a new --out"
                )
            return True
        self.root.mkdir(parents=True, exist_ok=True)
        save(run_file, {"fingerprint": digest(fingerprint), "config": fingerprint})
        return False


__all__ = ["RUN_FILE", "RunDir", "digest"]
