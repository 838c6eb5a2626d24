"""Reads a run directory (finished or not) into one :class:`RunView` the report is drawn from.

A finished run has ``results.json``; its scores are used as written. A partial run (killed, or still
running) has ``run.json`` and some piece records: the report then scores the finished pieces alone
(the same Rust aggregation the engine uses) and lists every piece without a record as missing.
Per-image labels come from the piece records and the truth from the dataset the run was made on; if
that dataset is gone, the sections that need it say so and the rest is drawn from ``results.json``.

The run is read through the typed artefact readers (:class:`~advengine.competition.artefacts.RunFile`,
:class:`~advengine.competition.artefacts.Results`, the piece records), not through
:class:`~advengine.competition.config.CompetitionConfig`, so a report can be made of a run whose
plugins are not importable here, and a damaged file is one clear error naming it.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from advengine.competition import aggregate, eps_schedule
from advengine.competition.artefacts import (
    AttackRecord,
    DefenseRecord,
    PieceId,
    RecordedEntry,
    Results,
    RunFile,
    read_artefact,
)
from advengine.competition.engine import Batch
from advengine.competition.scoring import MISSING, NO_IMAGE, ScoringMode, headline, robust_accuracy
from advengine.competition.state import RUN_FILE, RunDir
from advengine.data import Dataset, load_dataset, sample_dataset_dir
from advengine.errors import AdvEngineError, ConfigError
from advengine.types import CLEAN

I64 = npt.NDArray[np.int64]
TRACKS = ("defense", "nontargeted", "targeted")
#: The NIPS 2017 organisers' sample entries (registered names): the baselines of the paper's Fig. 2.
BASELINES = frozenset(
    {"noop", "random-noise", "fgsm", "step-target-class", "iter-target-class", "classifier"}
)


@dataclasses.dataclass(frozen=True)
class EntryInfo:
    label: str
    name: str
    track: str
    params: dict[str, Any]
    models: list[str]
    submission: str | None
    #: The team that owns the entry ("proposal" scoring), where it has one.
    team: str | None = None

    @property
    def baseline(self) -> bool:
        return self.submission is None and self.name in BASELINES


@dataclasses.dataclass(frozen=True)
class Piece:
    """One piece record; ``attack`` is the attacked batch's attack (or "clean") for defense pieces."""

    kind: str
    entry: str
    attack: str | None
    batch: int
    status: str
    seconds: float
    images: int
    error: str | None
    #: Relative to the run dir: the record, and the submission's log directory when it kept one.
    record: str
    log: str | None

    @property
    def piece_id(self) -> str:
        parts = [self.kind, self.entry, *([self.attack] if self.attack else []), f"b{self.batch:04d}"]
        return "/".join(parts)


@dataclasses.dataclass
class Truth:
    """The dataset side of a run: image ids in order, TF-Slim labels and the batches."""

    dataset: Dataset
    true_labels: I64
    target_classes: I64
    batches: list[Batch]

    @property
    def image_eps(self) -> I64:
        eps = np.zeros(len(self.dataset), dtype=np.int64)
        for b in self.batches:
            eps[b.start : b.stop] = b.eps
        return eps


@dataclasses.dataclass
class RunView:
    root: Path
    config: dict[str, Any]
    dataset_hash: str
    results: dict[str, Any] | None
    attacks: list[EntryInfo]
    defenses: list[EntryInfo]
    pieces: list[Piece]
    missing: list[str]
    truth: Truth | None
    #: Why :attr:`truth` is None (the dataset could not be loaded), else None.
    truth_error: str | None
    #: ``[attack, defense, image]`` labels, MISSING or NO_IMAGE; ``[defense, image]`` on clean images.
    predictions: I64 | None
    clean_predictions: I64 | None
    #: results.json's entries, or the same fields scored from the finished pieces of a partial run.
    scored: dict[str, Any]

    @property
    def finished(self) -> bool:
        return self.results is not None

    @property
    def mode(self) -> str:
        return str(self.config.get("scoring", "paper"))

    @property
    def time_limit(self) -> float:
        """Seconds per piece; ``inf`` when the run had none (its config records null)."""
        value = self.config.get("time_limit", 500.0)
        return math.inf if value is None else float(value)

    def entries(self, track: str) -> list[EntryInfo]:
        return self.defenses if track == "defense" else [a for a in self.attacks if a.track == track]


def _entries(items: list[RecordedEntry]) -> list[EntryInfo]:
    return [
        EntryInfo(
            label=e.label,
            name=e.name,
            track=e.track,
            params=dict(e.params),
            models=list(e.models),
            submission=e.submission,
            team=e.team,
        )
        for e in items
    ]


def _load_truth(config: dict[str, Any]) -> tuple[Truth | None, str | None]:
    spec = config.get("dataset", {})
    directory = Path(spec["dir"]) if spec.get("dir") else sample_dataset_dir()
    try:
        ds = load_dataset(directory)
    except (AdvEngineError, OSError) as exc:
        return None, f"the dataset at {directory} cannot be read ({exc})"
    if spec.get("limit") is not None:
        ds = ds.head(int(spec["limit"]))
    if ds.true_labels is None or ds.target_classes is None:
        return None, f"the dataset at {directory} has no labels"
    size, n = int(config["batch_size"]), len(ds)
    starts = list(range(0, n, size))
    schedule = eps_schedule(len(starts), str(config["eps"]), int(config["seed"]))
    batches = [
        Batch(k, s, min(s + size, n), e) for k, (s, e) in enumerate(zip(starts, schedule, strict=True))
    ]
    return Truth(ds, ds.true_labels, ds.target_classes, batches), None


Records = dict[tuple[str, str, str | None, int], AttackRecord | DefenseRecord]


def _piece(run: RunDir, piece: PieceId, rec: AttackRecord | DefenseRecord) -> Piece:
    path = run.record_path(piece)
    kind, entry, attack, batch = piece.kind, piece.entry, piece.attack, piece.batch
    log = run.root / "logs" / kind / entry / (attack or "") / path.stem
    return Piece(
        kind=kind,
        entry=entry,
        attack=attack,
        batch=batch,
        status=rec.status,
        seconds=rec.seconds,
        images=len(rec.image_ids),
        error=rec.error,
        record=path.relative_to(run.root).as_posix(),
        log=log.relative_to(run.root).as_posix() if log.is_dir() else None,
    )


def _batch_indices(run: RunDir, truth: Truth | None, results: dict[str, Any] | None) -> list[int]:
    if truth is not None:
        return [b.index for b in truth.batches]
    if results is not None:
        return [int(b["index"]) for b in results["batches"]]
    found = {int(p.stem[1:]) for p in (run.root / "pieces").rglob("b*.json") if p.stem[1:].isdigit()}
    return sorted(found)


def _collect(
    run: RunDir, attacks: list[EntryInfo], defenses: list[EntryInfo], batches: list[int]
) -> tuple[list[Piece], list[str], Records]:
    """Every piece record (as a :class:`Piece` and as read, keyed by (kind, entry, attack, batch)) and
    the ids of the expected pieces without one."""
    pieces: list[Piece] = []
    missing: list[str] = []
    records: Records = {}
    for a in attacks:
        for b in batches:
            rec = run.attack_record(a.label, b)
            if rec is None:
                missing.append(f"attack/{a.label}/b{b:04d}")
                continue
            pieces.append(_piece(run, PieceId.of_attack(a.label, b), rec))
            records["attack", a.label, None, b] = rec
    for d in defenses:
        for target in (CLEAN, *(a.label for a in attacks)):
            for b in batches:
                drec = run.defense_record(d.label, target, b)
                if drec is not None:
                    pieces.append(_piece(run, PieceId.of_defense(d.label, target, b), drec))
                    records["defense", d.label, target, b] = drec
                    continue
                attack_rec = records.get(("attack", target, None, b))
                # No piece is due on an attack batch that finished without images; one that has not
                # finished yet still owes its defense pieces.
                if target == CLEAN or attack_rec is None or attack_rec.image_ids:
                    missing.append(f"defense/{d.label}/{target}/b{b:04d}")
    return pieces, missing, records


def _predictions(
    truth: Truth, attacks: list[EntryInfo], defenses: list[EntryInfo], records: Records
) -> tuple[I64, I64]:
    """The engine's prediction arrays, from whichever records exist (a missing attack piece's images
    count as not produced, a missing defense piece's labels as not given)."""
    ids = truth.dataset.image_ids
    index = {image_id: i for i, image_id in enumerate(ids)}
    preds = np.full((len(attacks), len(defenses), len(ids)), NO_IMAGE, dtype=np.int64)
    clean = np.full((len(defenses), len(ids)), MISSING, dtype=np.int64)
    row = {a.label: k for k, a in enumerate(attacks)}
    col = {d.label: k for k, d in enumerate(defenses)}
    for (kind, entry, _, _), rec in records.items():
        if kind == "attack":
            preds[row[entry], :, [index[i] for i in rec.image_ids]] = MISSING
    for (_, entry, target, _), rec in records.items():
        if not isinstance(rec, DefenseRecord) or rec.labels is None:
            continue
        cols = [index[i] for i in rec.image_ids]
        if target == CLEAN:
            clean[col[entry], cols] = rec.labels
        else:
            preds[row[str(target)], col[entry], cols] = rec.labels
    return preds, clean


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _provisional(
    mode: str, attacks: list[EntryInfo], defenses: list[EntryInfo], truth: Truth, preds: I64, clean: I64
) -> dict[str, Any]:
    """results.json's entry fields and matrices, scored from the finished pieces of a partial run."""
    is_targeted = np.array([a.track == "targeted" for a in attacks], dtype=np.bool_)
    scoring = cast(ScoringMode, mode)
    teams = [a.team for a in attacks], [d.team for d in defenses]
    agg = aggregate(preds, truth.true_labels, truth.target_classes, is_targeted, scoring, *teams)
    robust = robust_accuracy(preds, truth.true_labels, agg.attacks_used)

    def score(raw: int, norm: float) -> float | int | None:
        return headline(scoring, raw, norm)

    out_attacks = [
        {
            "name": e.label,
            "score": score(int(agg.attack_raw[k]), float(agg.attack_score[k])),
            "raw_score": int(agg.attack_raw[k]),
            "worst_score": _num(float(agg.attack_worst[k])),
            "excluded": not bool(agg.attacks_used[k]),
            "exclusion_reason": f"produced {int(agg.produced[k])} of {len(truth.dataset)} images so far",
        }
        for k, e in enumerate(attacks)
    ]
    out_defenses = [
        {
            "name": e.label,
            "score": score(int(agg.defense_raw[k]), float(agg.defense_score[k])),
            "raw_score": int(agg.defense_raw[k]),
            "worst_score": _num(float(agg.defense_worst[k])),
            "excluded": not bool(agg.defenses_used[k]),
            "exclusion_reason": "did not label every adversarial image produced so far",
            "robust_accuracy": _num(float(robust[k])),
            # Over the clean images labelled so far; None before the first.
            "clean_accuracy": float((clean[k] == truth.true_labels)[clean[k] >= 0].mean())
            if (clean[k] >= 0).any()
            else None,
        }
        for k, e in enumerate(defenses)
    ]
    return {
        "attacks": out_attacks,
        "defenses": out_defenses,
        "matrices": {
            "correct": agg.correct.tolist(),
            "error": agg.error.tolist(),
            "hit": agg.hit.tolist(),
            "classified": agg.classified.tolist(),
        },
    }


def load_run(root: Path) -> RunView:
    """The run in ``root``; :class:`ConfigError` if it holds no ``run.json``."""
    run = RunDir(root)
    if not (root / RUN_FILE).is_file():
        raise ConfigError(f"{root} holds no {RUN_FILE}, so it is not an advengine eval run directory")
    run_file = read_artefact(root / RUN_FILE, RunFile)
    recorded = run_file.config.config
    # The page reads the config as JSON (keys a newer version added included): the raw object, once
    # the typed reader has vouched for the keys this module needs.
    raw = run.read_run_file()["config"]["config"]
    config = dict(raw)
    results: dict[str, Any] | None = None
    if (root / "results.json").is_file():
        results = read_artefact(root / "results.json", Results).to_json()
    attacks = _entries([*recorded.attacks, *recorded.targeted_attacks])
    defenses = _entries(recorded.defenses)
    truth, truth_error = _load_truth(config)
    pieces, missing, records = _collect(run, attacks, defenses, _batch_indices(run, truth, results))
    preds = clean = None
    if truth is not None:
        preds, clean = _predictions(truth, attacks, defenses, records)
    if results is not None:
        scored: dict[str, Any] = results
    elif truth is not None and preds is not None and clean is not None:
        scored = _provisional(str(config.get("scoring", "paper")), attacks, defenses, truth, preds, clean)
    else:
        scored = {}
    return RunView(
        root=root,
        config=config,
        dataset_hash=run_file.config.dataset_hash,
        results=results,
        attacks=attacks,
        defenses=defenses,
        pieces=pieces,
        missing=missing,
        truth=truth,
        truth_error=truth_error,
        predictions=preds,
        clean_predictions=clean,
        scored=scored,
    )


__all__ = ["BASELINES", "TRACKS", "EntryInfo", "Piece", "RunView", "Truth", "load_run"]
