"""``advengine verify``: check a finished (or partial) run dir offline, without running anything.

What is checked depends on what the checker holds (docs/records.md):

- always: every piece record is a valid record of its place; an attack piece's PNGs hash to its
  ``output_hash``; a defense piece's labels hash to its ``output_hash`` and its ``input_hash`` is
  its attack piece's output; ``signature.json`` (when there) is a valid Ed25519 signature by the
  public key it names (compared with ``public_key`` when given) over the sha256 of run.json,
  results.json and every record, and those files still have those hashes;
- with the dataset the run was made on: every stored image inside its batch's ε-ball (the engine's
  own checks of :mod:`advengine.competition.verify`);
- with the run's key (the organiser): run.json's and every record's HMAC.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.competition.artefacts import AttackRecord, PieceId, read_json, read_record
from advengine.competition.engine import Batch, eps_schedule
from advengine.competition.keys import signature_ok
from advengine.competition.state import SIGNATURE_FILE, RunDir
from advengine.competition.verify import attack_problem, defense_problem
from advengine.data import Dataset, load_dataset, sample_dataset_dir
from advengine.errors import AdvEngineError, ConfigError
from advengine.kernels import read_png_batch
from advengine.types import CLEAN


@dataclasses.dataclass
class RunCheck:
    """What :func:`check_run` found: counts, what could not be checked, and every problem."""

    run_dir: str
    finished: bool
    records: int = 0
    images: int = 0
    hmac_checked: bool = False
    eps_checked: bool = False
    signature: str = "absent"
    #: Why a check could not be made (no key, no dataset), one line each.
    unchecked: list[str] = dataclasses.field(default_factory=list)
    #: ``<piece or file>: <why>``, one per failure.
    problems: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ok": self.ok}


def _piece_of(root: Path, path: Path) -> PieceId | None:
    parts = path.relative_to(root / "pieces").with_suffix("").parts
    if not parts or not parts[-1].startswith("b") or not parts[-1][1:].isdigit():
        return None
    batch = int(parts[-1][1:])
    if parts[0] == "attack" and len(parts) == 3:
        return PieceId.of_attack(parts[1], batch)
    if parts[0] == "defense" and len(parts) == 4:
        return PieceId.of_defense(parts[1], parts[2], batch)
    return None


def _dataset(config: dict[str, Any]) -> tuple[Dataset | None, list[Batch], str | None]:
    spec = config.get("dataset", {}) if isinstance(config.get("dataset"), dict) else {}
    directory = Path(spec["dir"]) if spec.get("dir") else sample_dataset_dir()
    try:
        ds = load_dataset(directory)
        if spec.get("limit") is not None:
            ds = ds.head(int(spec["limit"]))
        size, n = int(config["batch_size"]), len(ds)
        starts = list(range(0, n, size))
        schedule = eps_schedule(len(starts), str(config["eps"]), int(config["seed"]))
    except (AdvEngineError, OSError, KeyError, TypeError, ValueError) as exc:
        return None, [], f"ε not checked: the dataset at {directory} cannot be read ({exc})"
    batches = [
        Batch(k, s, min(s + size, n), e) for k, (s, e) in enumerate(zip(starts, schedule, strict=True))
    ]
    return ds, batches, None


def _check_signature(root: Path, run: RunDir, public_key: str | None, check: RunCheck) -> None:
    path = root / SIGNATURE_FILE
    if not path.is_file():
        check.unchecked.append(f"no {SIGNATURE_FILE}: the run has no signed digest (it has not finished)")
        return
    try:
        sig = read_json(path)
        payload = {k: v for k, v in sig.items() if k != "signature"}
        files, public, signature = sig["files"], str(sig["public_key"]), str(sig["signature"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        check.signature = "invalid"
        check.problems.append(f"{SIGNATURE_FILE}: unreadable ({' '.join(str(exc).split())[:120]})")
        return
    if public_key is not None and public.lower() != public_key.lower():
        check.signature = "invalid"
        check.problems.append(f"{SIGNATURE_FILE}: signed by {public[:16]}…, not by the given public key")
        return
    if not signature_ok(public, payload, signature):
        check.signature = "invalid"
        check.problems.append(f"{SIGNATURE_FILE}: the signature does not match its digest")
        return
    check.signature = "valid" if public_key is not None else f"valid, by public key {public}"
    now = {p.relative_to(root).as_posix() for p in run.signed_files() if p.is_file()}
    for name in sorted(now - set(files)):
        check.problems.append(f"{name}: not in the signed digest (added after the run was signed)")
    for name, sha in sorted(files.items()):
        f = root / name
        if not f.is_file():
            check.problems.append(f"{name}: in the signed digest but gone")
        elif hashlib.sha256(f.read_bytes()).hexdigest() != sha:
            check.problems.append(f"{name}: changed since the run was signed")


def check_run(root: Path, *, key_dir: Path | None = None, public_key: str | None = None) -> RunCheck:
    """Check the run dir ``root`` offline (see the module doc); :class:`ConfigError` when it is no
    run dir at all."""
    t0 = time.perf_counter()
    run = RunDir(root, key_dir)
    data = run.read_run_file()
    check = RunCheck(run_dir=str(root), finished=(root / "results.json").is_file())
    try:
        why = run.open_key(data)
    except ConfigError as exc:
        check.problems.append(f"run.json: {exc}")
        why = "run.json fails its HMAC"
    if why is None:
        check.hmac_checked = True
    else:
        check.unchecked.append(f"HMAC not checked: {why}")
    fingerprint = data.get("config")
    config = fingerprint.get("config") if isinstance(fingerprint, dict) else None
    if not isinstance(config, dict):
        config = {}
    ds, batches, no_eps = _dataset(config)
    if no_eps is not None:
        check.unchecked.append(no_eps)
    check.eps_checked = ds is not None

    def read_adv(attack: str) -> Any:
        return lambda ids: read_png_batch([run.adv_image(attack, i) for i in ids], strict=True)

    def read_clean(b: Batch) -> Any:
        assert ds is not None
        where = {image_id: k for k, image_id in enumerate(ds.image_ids[b.start : b.stop])}

        def read(ids: list[str]) -> npt.NDArray[np.uint8]:
            return ds.read_images(b.start, b.stop)[[where[i] for i in ids]]

        return read

    outputs: dict[tuple[str, int], str | None] = {}
    paths = sorted((root / "pieces").rglob("*.json"))
    for path in paths:  # attack records first: a defense record's input is its attack's output
        piece = _piece_of(root, path)
        if piece is None:
            check.problems.append(f"{path.relative_to(root)}: not a piece record's place")
            continue
        if piece.kind != "attack":
            continue
        check.records += 1
        rec, why = run.read_attack(piece)
        if rec is not None:
            outputs[piece.entry, piece.batch] = rec.output_hash
            if ds is not None and piece.batch < len(batches):
                b = batches[piece.batch]
                ids = ds.image_ids[b.start : b.stop]
                why = attack_problem(rec, piece, ids, b.eps, read_adv(piece.entry), read_clean(b))
            elif ds is None:
                # No dataset: the hash alone (each image is its own clean, so ε is not checked).
                read = read_adv(piece.entry)
                why = attack_problem(rec, piece, rec.image_ids, rec.eps, read, read)
            else:
                why = f"batch {piece.batch} is not one of the run's {len(batches)} batches"
            check.images += len(rec.image_ids)
        if why is not None:
            check.problems.append(f"{piece}: {why}")
    for path in paths:
        piece = _piece_of(root, path)
        if piece is None or piece.kind != "defense":
            continue
        check.records += 1
        drec, why = run.read_defense(piece)
        if drec is not None:
            attack = piece.attack or CLEAN
            if attack == CLEAN:
                if ds is not None and piece.batch < len(batches):
                    b = batches[piece.batch]
                    why = defense_problem(drec, piece, ds.image_ids[b.start : b.stop])
                else:
                    why = defense_problem(drec, piece, drec.image_ids)
            elif (attack, piece.batch) not in outputs:
                why = "its attack piece has no valid record"
            elif drec.input_hash != outputs[attack, piece.batch]:
                why = "it classified other images than its attack piece's stored ones"
            else:
                arec, _ = read_record(run.record_path(PieceId.of_attack(attack, piece.batch)), AttackRecord)
                why = defense_problem(drec, piece, arec.image_ids if arec else [])
        if why is not None:
            check.problems.append(f"{piece}: {why}")
    _check_signature(root, run, public_key, check)
    check.seconds = time.perf_counter() - t0
    return check


__all__ = ["RunCheck", "check_run"]
