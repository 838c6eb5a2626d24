"""Work pieces: pure functions of (roster entry, inputs) → outputs, runnable in any process.

An attack piece maps one clean batch (plus ε, target classes and a seed) to adversarial images; a
defense piece maps one image batch (plus a seed) to TF-Slim labels. Built attacks and defenses are
cached per process by :attr:`Entry.key`, so a warm worker loads its models once per roster entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from advengine.attacks import Attack, build_attack
from advengine.competition.config import Entry
from advengine.defenses import Defense, build_defense
from advengine.types import ImagesU8, Labels


@dataclasses.dataclass(frozen=True)
class AttackInputs:
    images: ImagesU8
    eps: int
    target_classes: Labels | None
    seed: int
    #: The engine's piece id; names the piece's log directory when an external submission runs it.
    piece: str = ""


@dataclasses.dataclass(frozen=True)
class DefenseInputs:
    images: ImagesU8
    seed: int
    piece: str = ""


Inputs = AttackInputs | DefenseInputs

_BUILT: dict[str, Attack | Defense] = {}


def _instance(entry: Entry) -> Attack | Defense:
    built = _BUILT.get(entry.key)
    if built is None:
        if entry.track == "defense":
            built = build_defense(entry.name, entry.params, entry.models)
        else:
            built = build_attack(entry.name, entry.params, entry.models)
        _BUILT[entry.key] = built
    return built


def run_piece(entry: Entry, inputs: Inputs) -> Any:
    """Run one piece in this process. Attacks return whatever the attack made (the engine checks and
    projects it); defenses return labels."""
    if entry.submission is not None:  # an original NIPS17 submission, run in a sandbox
        from advengine.submissions.roster import run_submission_piece

        return run_submission_piece(entry, inputs, inputs.piece)
    piece = _instance(entry)
    if isinstance(piece, Defense):
        if not isinstance(inputs, DefenseInputs):
            raise TypeError(f"defense {entry.label} needs DefenseInputs")
        return piece(inputs.images, seed=inputs.seed)
    if not isinstance(inputs, AttackInputs):
        raise TypeError(f"attack {entry.label} needs AttackInputs")
    return piece(inputs.images, eps=inputs.eps, target_classes=inputs.target_classes, seed=inputs.seed)


def piece_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed derived from the competition seed and the piece's identity (stable across runs
    and processes, unlike ``hash``)."""
    text = "/".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


__all__ = ["AttackInputs", "DefenseInputs", "Inputs", "piece_seed", "run_piece"]
