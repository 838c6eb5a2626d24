"""A finished run, read back so that its entries can run again: its config (from run.json), its
images, batches and piece records; and :func:`run_inputs`, which sends re-run pieces through the
engine's own executor and piece runners."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from advengine.competition.artefacts import PieceId, Results, read_json
from advengine.competition.config import CompetitionConfig, parse_config
from advengine.competition.engine import Batch, dataset_hash, run_dataset
from advengine.competition.executor import Executor, Job, Outcome
from advengine.competition.pieces import Inputs
from advengine.competition.plugins import import_plugins
from advengine.competition.state import RUN_FILE, RunDir
from advengine.data import Dataset
from advengine.errors import ConfigError
from advengine.types import Entry, ImagesU8, SandboxSettings

_ROSTER = ("attacks", "targeted_attacks", "defenses")

T = TypeVar("T")


def _as_file(config: dict[str, Any]) -> dict[str, Any]:
    """The competition TOML that resolves to the config a run recorded (``CompetitionConfig.to_json``)."""
    doc: dict[str, Any] = {k: v for k, v in config.items() if k not in (*_ROSTER, "dataset")}
    for key in ("time_limit", "warmup_limit"):
        if key in doc and doc[key] is None:
            doc[key] = math.inf  # JSON null is "no limit"
    dataset = config.get("dataset") or {}
    doc["dataset"] = {k: v for k, v in dataset.items() if v is not None}
    submissions: list[dict[str, Any]] = []
    for section in _ROSTER:
        tables = []
        for e in config.get(section, []):
            member = {k: e[k] for k in ("team", "baseline") if k in e}
            if "submission" in e:
                kept = {k: v for k, v in e["params"].items() if k in SandboxSettings.model_fields}
                submissions.append({"path": e["submission"], "label": e["label"], **kept, **member})
                continue
            table = {k: e[k] for k in ("name", "label", "params", "models")}
            tables.append({**table, **member})
        doc[section] = tables
    doc["submissions"] = submissions
    return doc


@dataclasses.dataclass
class FinishedRun:
    """What ``advengine check`` needs of a run directory."""

    root: Path
    config: CompetitionConfig
    results: Results
    dataset: Dataset
    batches: list[Batch]

    @property
    def run_dir(self) -> RunDir:
        return RunDir(self.root)

    def entry(self, label: str) -> Entry:
        for e in self.config.entries:
            if e.label == label:
                return e
        raise ConfigError(f"{label!r} is no entry of the run in {self.root}")

    def batch_of(self, row: int) -> Batch:
        return self.batches[row // self.config.batch_size]

    @functools.cached_property
    def row_of(self) -> dict[str, int]:
        """Each image id's dataset row."""
        return {image_id: r for r, image_id in enumerate(self.dataset.image_ids)}

    def labelled(self, defense: str, attack: str) -> list[tuple[int, int]]:
        """(dataset row, the run's label) of each of ``attack``'s images (``CLEAN``: the clean ones)
        that ``defense`` labelled, in the run's order."""
        out: list[tuple[int, int]] = []
        for b in self.batches:
            rec = self.run_dir.defense_record(defense, attack, b.index)
            if rec is not None and rec.labels is not None:
                out += [
                    (self.row_of[i], lab)
                    for i, lab in zip(rec.image_ids, rec.labels, strict=True)
                    if lab >= 0
                ]
        return out

    def clean(self, rows: Sequence[int]) -> ImagesU8:
        """The clean images at dataset rows ``rows``."""
        return np.stack([self.dataset.read_images(r, r + 1)[0] for r in rows])


def load_finished(root: Path) -> FinishedRun:
    """The finished run in ``root`` (its results.json written), ready to run its entries again."""
    results_file, run_file = root / "results.json", root / RUN_FILE
    if not run_file.is_file():
        raise ConfigError(f"{root} holds no {RUN_FILE}, so it is not an advengine eval run directory")
    if not results_file.is_file():
        raise ConfigError(f"{root} has no results.json: the run has not finished; finish it with --resume")
    fingerprint = read_json(run_file).get("config", {})
    recorded = fingerprint.get("config")
    if not isinstance(recorded, dict):
        raise ConfigError(f"{run_file} holds no config; it was not written by advengine eval")
    import_plugins(recorded.get("plugins", []), where=f"{run_file}: plugins")
    config = parse_config(_as_file(recorded), source=str(run_file)).for_run(root)
    now = {e.label: e.to_json() for e in config.entries}
    for old in (e for s in _ROSTER for e in recorded.get(s, [])):
        digest = old.get("params", {}).get("digest")
        if "submission" in old and now[old["label"]]["params"].get("digest") != digest:
            raise ConfigError(
                f"submission {old['label']!r} ({old['submission']}) changed since the run; "
                "check a run of the submission as it is now"
            )
    results = Results.model_validate_json(results_file.read_text(encoding="utf-8"))
    dataset = run_dataset(config)
    if dataset_hash(dataset) != fingerprint.get("dataset_hash"):
        raise ConfigError(
            f"the images of the run in {root} changed since it ran ({dataset.image_paths[0].parent}); "
            "check a run made on the images as they are now"
        )
    n, size = len(dataset), config.batch_size
    batches = [Batch(b.index, b.index * size, min(b.index * size + size, n), b.eps) for b in results.batches]
    return FinishedRun(root, config, results, dataset, batches)


def draw(rng: np.random.Generator, items: list[T], n: int) -> list[T]:
    """Up to ``n`` of ``items``, drawn without replacement and kept in their order: the sample an entry
    runs again on."""
    if len(items) <= n:
        return items
    return [items[int(i)] for i in sorted(rng.choice(len(items), size=n, replace=False))]


def _given(inputs: Inputs) -> Callable[[], Inputs]:
    return lambda: inputs


def run_inputs(executor: Executor, entry: Entry, tag: str, inputs: Sequence[Inputs]) -> list[Outcome]:
    """Run ``entry`` on each of ``inputs`` through ``executor`` (the engine's own), in order; each
    piece is named ``<kind>/<entry>/rules:<tag>/bNNNN`` in messages."""
    kind: Any = "defense" if entry.track == "defense" else "attack"
    jobs = [
        Job(PieceId(kind, entry.label, k, f"rules:{tag}"), entry, _given(x)) for k, x in enumerate(inputs)
    ]
    outcomes: dict[int, Outcome] = {}
    executor.run(jobs, lambda job, outcome: outcomes.__setitem__(job.piece.batch, outcome))
    return [outcomes[k] for k in range(len(jobs))]


__all__ = ["FinishedRun", "draw", "load_finished", "run_inputs"]
