"""The typed artefacts of a run: piece ids, piece records and the results object.

This module is where they are turned into files and back (:func:`save`, :func:`load_record`); the
layout is documented in docs/competition.md and stays byte-compatible with earlier versions, so
``--resume`` continues run directories written before these types existed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from advengine.errors import ConfigError
from advengine.files import atomic_write
from advengine.types import CLEAN

Status = Literal["ok", "crashed", "timeout"]
Score = float | int | None


@dataclasses.dataclass(frozen=True, order=True)
class PieceId:
    """One piece of Algorithm 1: an attack on a batch, or a defense on one attack's (or the clean)
    images of a batch. ``str(piece)`` is the id written in records and logs:
    ``attack/<attack>/bNNNN`` or ``defense/<defense>/<attack|clean>/bNNNN``."""

    kind: Literal["attack", "defense"]
    entry: str
    batch: int
    #: Defense pieces: the attack whose images are classified, or CLEAN.
    attack: str | None = None

    @staticmethod
    def of_attack(attack: str, batch: int) -> PieceId:
        return PieceId("attack", attack, batch)

    @staticmethod
    def of_defense(defense: str, attack: str, batch: int) -> PieceId:
        return PieceId("defense", defense, batch, attack)

    @property
    def parts(self) -> tuple[str, ...]:
        """The id's path segments: the record's directory under ``pieces/`` and the log directory."""
        middle = (self.attack or CLEAN,) if self.kind == "defense" else ()
        return (self.kind, self.entry, *middle, f"b{self.batch:04d}")

    @property
    def stage(self) -> str:
        """The id without its batch: what the progress bar shows."""
        return "/".join(self.parts[:-1])

    def __str__(self) -> str:
        return "/".join(self.parts)


class _Artefact(BaseModel):
    # Unknown keys are ignored so that a record from a newer version still reads.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AttackRecord(_Artefact):
    """``pieces/attack/<attack>/bNNNN.json``: what one attack piece produced."""

    piece: str
    status: Status
    seconds: float
    eps: int
    image_ids: list[str]
    #: sha256 of the projected images; the input hash of the defense pieces that classify them.
    output_hash: str | None
    error: str | None


class DefenseRecord(_Artefact):
    """``pieces/defense/<defense>/<attack|clean>/bNNNN.json``: one defense piece's labels."""

    piece: str
    status: Status
    seconds: float
    image_ids: list[str]
    labels: list[int] | None
    input_hash: str | None
    output_hash: str | None
    error: str | None


PieceRecord = AttackRecord | DefenseRecord
R = TypeVar("R", AttackRecord, DefenseRecord)
A = TypeVar("A", bound=BaseModel)


class DatasetInfo(_Artefact):
    dir: str
    images: int
    hash: str
    limit: int | None


class BatchInfo(_Artefact):
    index: int
    eps: int
    images: int


class EntryResult(_Artefact):
    """One attack's or defense's line of results.json."""

    #: The entry's team, where it has one.
    team: str | None = None
    #: One of the organisers' baselines, where it is.
    baseline: bool = False
    name: str
    entry: str
    track: str
    params: dict[str, Any]
    models: list[str]
    score: Score
    raw_score: int
    normalized_score: float | None
    worst_score: float | None
    #: Attacks only.
    images_produced: int | None = None
    #: Defenses only.
    images_classified: int | None = None
    clean_accuracy: float | None = None
    #: Defenses only: the share of images correctly labelled under every used attack.
    robust_accuracy: float | None = None
    excluded: bool
    median_batch_seconds: float | None
    #: The median piece time scaled to 100 images (the report's batch), whatever the batch size.
    median_seconds_per_100: float | None = None
    pieces: dict[str, int]
    errors: list[str]
    exclusion_reason: str | None = None
    #: With ``ranking = "strength"``: the entry's strength (docs/competition.md, "Strength ranking").
    strength: float | None = None

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # The track-specific keys and exclusion_reason appear only where they apply.
        out: dict[str, Any] = handler(self)
        optional = (
            "team",
            "baseline",
            "images_produced",
            "images_classified",
            "clean_accuracy",
            "robust_accuracy",
            "exclusion_reason",
            "strength",
        )
        for key in optional:
            if key not in self.model_fields_set:
                out.pop(key, None)
        return out


class Exclusion(_Artefact):
    name: str
    track: str
    reason: str


class EpsScores(_Artefact):
    eps: int
    images: int
    attacks: dict[str, Score]
    defenses: dict[str, Score]


class Matrices(_Artefact):
    """``[attack][defense]`` counts over the images, rows and columns named by ``attacks``/``defenses``."""

    attacks: list[str]
    defenses: list[str]
    correct: list[list[int]]
    error: list[list[int]]
    hit: list[list[int]]
    classified: list[list[int]]


RuleName = Literal["stateless", "collusion", "channel", "test-round"]


class Finding(_Artefact):
    """One flagged breach of the competition's rules (docs/rules.md): ``advengine check``."""

    rule: RuleName
    #: The entry's name as in results.json.
    entry: str
    #: What was measured, in one or two sentences an organiser can act on.
    evidence: str
    #: The test's p-value, where the rule uses one.
    p_value: float | None = None
    #: The size of the effect (a share of labels or images, an accuracy difference).
    effect: float | None = None
    #: The other entry of a pair (collusion and channel findings: the team's attack).
    partner: str | None = None

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # A finding has a p-value or an effect (or both), and a partner only where a pair is flagged.
        out: dict[str, Any] = handler(self)
        return {k: v for k, v in out.items() if v is not None or k not in ("p_value", "effect", "partner")}


class Checked(_Artefact):
    """One entry the check looked at, the rules it applied and notes on what it could not test."""

    entry: str
    rules: list[RuleName]
    notes: list[str] = []


class RulesReport(_Artefact):
    """The rules section of results.json and ``advengine check --json``: only what is flagged in
    ``findings``; everything looked at in ``checked``."""

    findings: list[Finding]
    checked: list[Checked]
    #: The settings the check ran with (sample size, seed, thresholds).
    settings: dict[str, Any] = {}
    seconds: float | None = None


class Results(_Artefact):
    """results.json (schema ``advengine.eval/1``); written last, so its presence means the run
    finished."""

    schema_: str = Field(alias="schema")
    mode: str
    seed: int
    dataset: DatasetInfo
    eps_values: list[int]
    batches: list[BatchInfo]
    config: dict[str, Any]
    attacks: list[EntryResult]
    defenses: list[EntryResult]
    exclusions: list[Exclusion]
    per_eps: list[EpsScores]
    matrices: Matrices
    timings: dict[str, float] = {}
    #: How the leaderboards are ordered: "score" (the mode's score) or "strength" (issue 27).
    ranking: str = "score"
    #: ``advengine check`` findings (absent until a check has run; older runs load without it).
    rules: RulesReport | None = None

    @model_serializer(mode="wrap")
    def _without_unset(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        # The keys added after results.json existed appear only when they say something, so a run
        # without them is byte-identical to one written before they existed.
        out: dict[str, Any] = handler(self)
        if self.ranking == "score":
            out.pop("ranking", None)
        if self.rules is None:
            out.pop("rules", None)
        return out

    def nontargeted(self) -> list[EntryResult]:
        return [a for a in self.attacks if a.track == "nontargeted"]

    def targeted(self) -> list[EntryResult]:
        return [a for a in self.attacks if a.track == "targeted"]

    def to_json(self) -> dict[str, Any]:
        """The results object exactly as results.json holds it."""
        data: dict[str, Any] = self.model_dump(by_alias=True)
        return data


class Standing(_Artefact):
    """One entry's place in a round summary."""

    name: str
    team: str | None = None
    score: Score


class TrackSummary(_Artefact):
    """A track of one round: its top entry against its best baseline (the data of the report's
    Fig. 1). ``margin`` = top − baseline, where both have a score."""

    track: str
    top: Standing | None
    best_baseline: Standing | None
    margin: float | None


class RoundSummary(_Artefact):
    name: str
    images: int
    mode: str
    #: The round's run directory (its results.json holds everything else).
    out: str
    tracks: list[TrackSummary]


class Rounds(_Artefact):
    """rounds.json of a run with ``[[rounds]]``: one summary per round, in order."""

    rounds: list[RoundSummary]


class RecordedEntry(_Artefact):
    """One roster entry as run.json records it (``Entry.to_json``)."""

    label: str
    name: str
    track: str
    params: dict[str, Any] = {}
    models: list[str] = []
    submission: str | None = None
    team: str | None = None


class RecordedDataset(_Artefact):
    dir: str | None = None
    limit: int | None = None


class RecordedConfig(_Artefact):
    """The resolved config inside run.json's fingerprint (``CompetitionConfig.to_json``): what a
    report of the run needs, checked as it is read."""

    dataset: RecordedDataset = RecordedDataset()
    batch_size: int = Field(ge=1)
    eps: str
    seed: int
    scoring: str = "paper"
    time_limit: float | None = None
    attacks: list[RecordedEntry] = []
    targeted_attacks: list[RecordedEntry] = []
    defenses: list[RecordedEntry] = []


class RunFingerprint(_Artefact):
    config: RecordedConfig
    dataset_hash: str = ""


class RunFile(_Artefact):
    """run.json: ``format`` 2 adds ``run_id`` and ``hmac`` (docs/records.md); format 1 has neither."""

    format: int = 1
    run_id: str | None = None
    fingerprint: str
    config: RunFingerprint
    hmac: str | None = None


def _invalid(path: Path, exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{path} is not a valid {path.name} ({where + ': ' if where else ''}{err['msg']})"


def read_artefact(path: Path, kind: type[A]) -> A:
    """A run artefact (run.json, results.json) read and validated; :class:`ConfigError` naming the
    file and its first problem when it is unreadable, not JSON, or not that artefact."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read ({' '.join(str(exc).split())[:120]})") from None
    try:
        return kind.model_validate_json(text)
    except ValidationError as exc:
        raise ConfigError(_invalid(path, exc)) from None


def dumps(payload: BaseModel | dict[str, Any]) -> str:
    """The one JSON layout of the run directory: two-space indent, key order kept, a final newline."""
    data = payload.model_dump(by_alias=True) if isinstance(payload, BaseModel) else payload
    return json.dumps(data, indent=2, sort_keys=False, allow_nan=True) + "\n"


def save(path: Path, payload: BaseModel | dict[str, Any]) -> None:
    """Write an artefact atomically (a reader sees the old file or the new one, never a torn one)."""
    atomic_write(path, dumps(payload))


def json_safe(value: Any) -> Any:
    """``value`` (dicts, lists, scalars) with every non-finite float as None: JSON has no NaN or
    infinity, and a score over no images is NaN (the CLI's ``--json`` and the server's leaderboard)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_record(path: Path, kind: type[R]) -> tuple[R | None, str | None]:
    """``(record, None)``; ``(None, None)`` while the piece has not finished (no record yet); and
    ``(None, why)`` when a file is there but is no valid record (unreadable, not JSON, a wrong type:
    validation is strict, so ``"3"`` or ``3.5`` is no label), phrased to follow "redone: "."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"its record cannot be read ({exc})"
    try:
        return kind.model_validate_json(text, strict=True), None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return None, f"its record is not a valid record ({where + ': ' if where else ''}{err['msg']})"


def load_record(path: Path, kind: type[R]) -> R | None:
    """The record at ``path``, or None if there is none or it is not valid (the engine checks records
    with :func:`read_record` before it trusts them)."""
    return read_record(path, kind)[0]


def pixels_hash(images: npt.NDArray[np.uint8]) -> str:
    """sha256 of an attack piece's stored images (``AttackRecord.output_hash``)."""
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()


def labels_hash(labels: list[int]) -> str:
    """sha256 of a defense piece's labels (``DefenseRecord.output_hash``)."""
    return hashlib.sha256(str(labels).encode()).hexdigest()


__all__ = [
    "AttackRecord",
    "BatchInfo",
    "Checked",
    "DatasetInfo",
    "DefenseRecord",
    "EntryResult",
    "EpsScores",
    "Exclusion",
    "Finding",
    "Matrices",
    "PieceId",
    "PieceRecord",
    "RecordedConfig",
    "RecordedEntry",
    "Results",
    "RuleName",
    "RulesReport",
    "RunFile",
    "Status",
    "dumps",
    "json_safe",
    "labels_hash",
    "load_record",
    "pixels_hash",
    "read_artefact",
    "read_json",
    "read_record",
    "save",
]
