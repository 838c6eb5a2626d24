"""The Python API behind ``advengine attack``, ``advengine defend`` and ``advengine list``.

NIPS 2017 semantics: an attack reads a dataset dir (``images/`` + CSV) or a plain dir of
``<ImageId>.png`` and writes same-named adversarial PNGs within ε (each file atomically, so an
interrupted run resumes by skipping the images already written); targeted attacks take their targets
from ``target_class.csv`` in the dir (NIPS17 format ``<ImageId>.png,<label>``, no header) or from
the dataset CSV's ``TargetClass``. A defense writes ``<ImageId>.png,<label>`` lines (TF-Slim labels).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import numpy.typing as npt

from advengine.attacks import ATTACKS, Attack, build_attack
from advengine.context import RunContext
from advengine.data import Dataset, load_dataset
from advengine.defenses import DEFENSES, Defense, build_defense
from advengine.errors import DatasetError, ParameterError
from advengine.files import atomic_write
from advengine.kernels import write_png_batch
from advengine.params import describe
from advengine.registry import Component
from advengine.seeds import derive_seed

TARGET_CSV = "target_class.csv"
#: Called after each batch with (images done, images in total).
Progress = Callable[[int, int], None]


class RunOptions(TypedDict, total=False):
    """The keyword options :func:`run_attack` and :func:`run_defense` share; each may be left out."""

    #: Source models (attacks) or classifiers (defenses); default: the entry's own.
    models: Sequence[str]
    #: Parameters by name, as text or values (the entry's params model checks them).
    params: Mapping[str, Any] | None
    seed: int
    batch_size: int
    #: Only the first N images.
    limit: int | None
    progress: Progress | None
    log: Callable[[str], None] | None
    #: ONNX Runtime settings; default: the environment's (:meth:`RunContext.from_env`).
    context: RunContext | None


_DEFAULTS: RunOptions = {
    "models": (),
    "params": None,
    "seed": 0,
    "batch_size": 25,
    "limit": None,
    "progress": None,
    "log": None,
    "context": None,
}


def _options(given: RunOptions) -> RunOptions:
    o: RunOptions = {**_DEFAULTS, **given}
    _check_batch_size(o["batch_size"], o["seed"])
    return o


def _dataset(data: str | Path, limit: int | None) -> Dataset:
    dataset = load_dataset(Path(data))
    return dataset if limit is None else dataset.head(limit)


@dataclass
class AttackRun:
    attack: str
    eps: int
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    out_dir: Path = Path()

    def summary(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "eps": self.eps,
            "written": len(self.written),
            "skipped": len(self.skipped),
            "out": str(self.out_dir),
        }


def _read_target_csv(path: Path) -> dict[str, int]:
    targets: dict[str, int] = {}
    with path.open(newline="") as f:
        for line_no, row in enumerate(csv.reader(f), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2:
                raise DatasetError(
                    f"{path}:{line_no}: expected '<ImageId>.png,<label>', got {','.join(row)!r}"
                )
            image, raw = row[0].strip(), row[1].strip()
            try:
                label = int(raw)
            except ValueError:
                raise DatasetError(f"{path}:{line_no}: target {raw!r} is not an integer label") from None
            if not 1 <= label <= 1000:
                raise DatasetError(f"{path}:{line_no}: target {label} is outside the TF-Slim labels 1..1000")
            targets[image.removesuffix(".png")] = label
    return targets


def target_classes(data: Path, dataset: Dataset) -> npt.NDArray[np.int64]:
    """Targets of ``dataset``: ``target_class.csv`` in ``data`` first, else the dataset CSV."""
    csv_path = data / TARGET_CSV if data.is_dir() else data.parent / TARGET_CSV
    if csv_path.is_file():
        table = _read_target_csv(csv_path)
        missing = [i for i in dataset.image_ids if i not in table]
        if missing:
            raise DatasetError(f"{csv_path}: no target for image {missing[0]}.png; add its line")
        return np.asarray([table[i] for i in dataset.image_ids], np.int64)
    if dataset.target_classes is not None:
        return dataset.target_classes
    raise DatasetError(
        f"{data}: a targeted attack needs {TARGET_CSV} (lines '<ImageId>.png,<label>') or a dataset CSV with "
        "TargetClass"
    )


def _check_batch_size(batch_size: int, seed: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"batch size must be a positive integer, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")


def _context(context: RunContext | None) -> RunContext:
    # A caller that gives no context runs with the environment's settings (ADVENGINE_PROVIDERS, ...).
    return context if context is not None else RunContext.from_env()


def make_attack(
    name: str,
    params: Mapping[str, Any] | None = None,
    models: Sequence[str] = (),
    context: RunContext | None = None,
) -> Attack[Any]:
    return build_attack(name, params, models, _context(context))


def run_attack(
    name: str, data: str | Path, out: str | Path, *, eps: int, **options: Unpack[RunOptions]
) -> AttackRun:
    """Attacks every image of ``data`` (resumable) and writes the PNGs into ``out``."""
    o = _options(options)
    seed, batch_size, progress, log = o["seed"], o["batch_size"], o["progress"], o["log"]
    attack = make_attack(name, o["params"], o["models"], o["context"])
    if isinstance(eps, bool) or not isinstance(eps, int) or not 1 <= eps <= 255:
        # 0 is refused as in every command: it would write unattacked copies (docs/attacks.md).
        raise ParameterError(f"eps must be an integer in 1..255 pixels, got {eps!r}")
    dataset = _dataset(data, o["limit"])
    targets = target_classes(Path(data), dataset) if attack.track == "targeted" else None
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = AttackRun(name, eps, out_dir=out_dir)
    todo = [i for i, image_id in enumerate(dataset.image_ids) if not (out_dir / f"{image_id}.png").is_file()]
    pending = set(todo)
    run.skipped = [image_id for i, image_id in enumerate(dataset.image_ids) if i not in pending]
    if log is not None:
        log(
            f"{name}: {len(todo)} images to attack at eps={eps} "
            f"({len(run.skipped)} already written) → {out_dir}"
        )
    done = len(run.skipped)
    if progress is not None:
        progress(done, len(dataset))
    for start in range(0, len(todo), batch_size):
        idx = todo[start : start + batch_size]
        part = dataset.take(idx)
        images = part.read_images()
        batch_targets = None if targets is None else targets[np.asarray(idx)]
        # Each batch draws from its own seed, named by its first image, so batches differ.
        batch_seed = derive_seed(seed, "attack", name, idx[0])
        adv = attack(images, eps=eps, target_classes=batch_targets, seed=batch_seed)
        write_png_batch(adv, [out_dir / f"{i}.png" for i in part.image_ids])
        run.written.extend(part.image_ids)
        done += len(idx)
        if progress is not None:
            progress(done, len(dataset))
    return run


def run_defense(
    name: str, data: str | Path, out_csv: str | Path, **options: Unpack[RunOptions]
) -> dict[str, int]:
    """Labels every image of ``data`` and writes the NIPS17 CSV ``<ImageId>.png,<label>`` atomically."""
    o = _options(options)
    seed, progress, log = o["seed"], o["progress"], o["log"]
    defense: Defense[Any] = build_defense(name, o["params"], o["models"], _context(o["context"]))
    dataset = _dataset(data, o["limit"])
    if log is not None:
        log(f"{name}: classifying {len(dataset)} images → {out_csv}")
    labels: dict[str, int] = {}
    for start, images in dataset.batches(o["batch_size"]):
        got = defense(images, seed=derive_seed(seed, "defense", name, start))
        for image_id, label in zip(dataset.image_ids[start : start + len(images)], got, strict=True):
            labels[image_id] = int(label)
        if progress is not None:
            progress(len(labels), len(dataset))
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, "".join(f"{k}.png,{v}\n" for k, v in labels.items()))
    return labels


#: Fields that describe the defense an adaptive attack aims at (``PipelineFields``); audit and an eval
#: config's ``source_defense`` fill them from ``Defense.spec()``, so ``advengine list`` shows them apart
#: from the attack's own knobs.
PIPELINE_FIELDS = frozenset(
    {"transforms", "fusion", "resize_pad_draws", "flip_prob", "size_low", "size_high", "canvas", "dropout"}
)


def plain_text(doc: str) -> str:
    """A docstring line for a terminal: RST literals (````x````) and roles (``:func:`x```) as plain text."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", doc)
    return text.replace("``", "")


def _listing(c: Component[Any], traits: dict[str, Any]) -> dict[str, Any]:
    """One ``advengine list`` item: the name, the kind's own traits, description and parameters (the
    defense-pipeline description fields of adaptive attacks apart, under ``pipeline_params``)."""
    params = describe(c.params_type, c.defaults)
    own = [p for p in params if p["name"] not in PIPELINE_FIELDS]
    pipeline = [p for p in params if p["name"] in PIPELINE_FIELDS]
    return {
        "name": c.name,
        **traits,
        "description": plain_text(c.doc),
        "params": own,
        "pipeline_params": pipeline,
    }


def components() -> dict[str, list[dict[str, Any]]]:
    """Every registered attack and defense with its track, description and parameters."""
    attacks = [
        _listing(a, {"track": a.setting("track"), "needs_models": a.cls.needs_models})
        for a in map(ATTACKS.get, ATTACKS.names())
    ]
    defenses = [
        _listing(d, {"randomized": d.setting("randomized")}) for d in map(DEFENSES.get, DEFENSES.names())
    ]
    return {"attacks": attacks, "defenses": defenses}


__all__ = [
    "AttackRun",
    "RunOptions",
    "components",
    "make_attack",
    "plain_text",
    "run_attack",
    "run_defense",
    "target_classes",
]
