"""Work pieces: pure functions of (roster entry, inputs) → outputs, runnable in any process.

An attack piece maps one clean batch (plus ε, target classes and a seed) to adversarial images; a
defense piece maps one image batch (plus a seed) to TF-Slim labels. Each kind of roster entry has its
:class:`EntryKind`, which builds the piece that runs an entry: built-in attacks and defenses here, and
kinds that packages above the competition add (``advengine.submissions`` runs original submissions),
imported by the module name their entry type gives. So the engine runs every entry the same way and
never imports those packages. Built pieces are cached per process by :attr:`Entry.key`, so a warm
worker loads its models once per roster entry.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from advengine.attacks import ATTACKS
from advengine.competition.artefacts import PieceId
from advengine.context import RunContext
from advengine.defenses import DEFENSES
from advengine.types import BuiltinEntry, Entry, ImagesU8, Labels, SubmissionTable


@dataclasses.dataclass(frozen=True)
class AttackInputs:
    images: ImagesU8
    eps: int
    target_classes: Labels | None
    seed: int
    #: The engine's piece id; names the piece's log directory when an external submission runs it.
    piece: PieceId | None = None


@dataclasses.dataclass(frozen=True)
class DefenseInputs:
    images: ImagesU8
    seed: int
    piece: PieceId | None = None


Inputs = AttackInputs | DefenseInputs
In = TypeVar("In", AttackInputs, DefenseInputs)


class Piece(Protocol):
    """Runs one batch: attacks return whatever they made (the engine checks and projects it, and a
    list may hold None for images left out); defenses return labels (−1: left out)."""

    def __call__(self, inputs: Inputs) -> Any: ...


@dataclasses.dataclass
class _Warming:
    """A piece with a warm-up: ``warm_up(batch)`` of its attack or defense, once per batch size."""

    component: Any
    run: Callable[[Inputs], Any]
    warmed: set[int] = dataclasses.field(default_factory=set)

    def __call__(self, inputs: Inputs) -> Any:
        return self.run(inputs)

    def warm_up(self, inputs: Inputs) -> None:
        if len(inputs.images) not in self.warmed:
            self.component.warm_up(len(inputs.images))
            self.warmed.add(len(inputs.images))


@dataclasses.dataclass(frozen=True)
class EntryKind:
    """How one kind of roster entry is read from a config table and run."""

    #: The piece that runs an entry of this kind.
    build: Callable[[Any, RunContext], Piece]
    #: The entry of a config table of this kind (``[[submissions]]``), where the kind has a table.
    resolve: Callable[[SubmissionTable, str, str], Entry] | None = None
    #: Seconds past the engine's time limit that a piece of this kind may run (:func:`overrun`).
    overrun: Callable[[Any, float], float] | None = None


_KINDS: dict[str, EntryKind] = {}


def register_kind(kind: str, entry_kind: EntryKind) -> None:
    _KINDS[kind] = entry_kind


def entry_kind(kind: str, module: str) -> EntryKind:
    """The registered kind, importing ``module`` (the one that registers it) on first use."""
    if kind not in _KINDS:
        importlib.import_module(module)
    return _KINDS[kind]


def _builtin(entry: BuiltinEntry, context: RunContext) -> Piece:
    """The piece of a registered attack or defense: its instance called on the batch."""
    if entry.track == "defense":
        defense = DEFENSES.get(entry.name).build(entry.params, entry.models, context)

        def classify(inputs: Inputs) -> Any:
            batch = _expect(inputs, DefenseInputs)
            return defense(batch.images, seed=batch.seed)

        return _Warming(defense, classify)
    attack = ATTACKS.get(entry.name).build(entry.params, entry.models, context)

    def perturb(inputs: Inputs) -> Any:
        batch = _expect(inputs, AttackInputs)
        return attack(batch.images, eps=batch.eps, target_classes=batch.target_classes, seed=batch.seed)

    return _Warming(attack, perturb)


def _expect(inputs: Inputs, want: type[In]) -> In:
    if not isinstance(inputs, want):
        raise TypeError(f"this piece needs {want.__name__}, got {type(inputs).__name__}")
    return inputs


register_kind("builtin", EntryKind(build=_builtin))

_BUILT: dict[str, Piece] = {}


def built_piece(
    entry: Entry, context: RunContext, inputs: Inputs | None = None, setup: dict[str, float] | None = None
) -> Piece:
    """The piece of ``entry``, built once per process; built-in pieces make their sessions in
    ``context``. Given the ``inputs`` it will run on, it is also warmed up for their batch size (its
    models loaded, its graphs compiled): the executors keep this out of the piece's time limit.
    ``setup``, when given, gets the seconds this call spent building (``build``) and warming up
    (``warmup``), 0 for what was already done: the run's per-stage timings."""
    t0 = time.perf_counter()
    piece = _BUILT.get(entry.key)
    if piece is None:
        piece = _BUILT[entry.key] = entry_kind(entry.kind, type(entry).runner).build(entry, context)
    t1 = time.perf_counter()
    if inputs is not None and isinstance(piece, _Warming):
        piece.warm_up(inputs)
    if setup is not None:
        setup["build"] = setup.get("build", 0.0) + t1 - t0
        setup["warmup"] = setup.get("warmup", 0.0) + time.perf_counter() - t1
    return piece


def run_piece(entry: Entry, inputs: Inputs, context: RunContext) -> Any:
    """Run one piece in this process (building it first if this process has not yet)."""
    return built_piece(entry, context)(inputs)


def overrun(entry: Entry, time_limit: float) -> float:
    """Seconds a piece of ``entry`` may run past ``time_limit`` before the executor kills it: kinds that
    enforce the limit themselves (submissions stop their own container) need time to stop and collect
    what was written."""
    extra = entry_kind(entry.kind, type(entry).runner).overrun
    return extra(entry, time_limit) if extra is not None else 0.0


__all__ = [
    "AttackInputs",
    "DefenseInputs",
    "EntryKind",
    "Inputs",
    "Piece",
    "built_piece",
    "entry_kind",
    "overrun",
    "register_kind",
    "run_piece",
]
