"""The HGD training set: adversarial examples that advengine's own attacks make on the training
images, plus the clean images themselves (so clean accuracy holds), cached on disk.

Every training image gets ``draws`` distinct (attack, source, ε) cells drawn from the seed; each cell
is attacked in batches and stored as one ``.npz`` (image ids + uint8 images), written atomically, so
an interrupted preparation resumes with the cells it has. The first ``holdout`` images of the dataset
(sorted by ImageId, the order of ``benches/measure_results.py``) are never read; ``limit`` keeps only
that many of the others (the attacks are most of a CPU run's cost).
"""

from __future__ import annotations

import gc
import io
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from advengine.attacks import build_attack
from advengine.attacks.sources import clear_sources
from advengine.context import RunContext
from advengine.data import Dataset, load_dataset
from advengine.errors import DatasetError
from advengine.files import atomic_write
from advengine.models.sessions import clear_sessions
from advengine.seeds import derive_seed
from advengine.training.settings import RunSettings, TrainSettings

U8 = npt.NDArray[np.uint8]
#: (images attacked so far, images to attack in all).
DataProgress = Callable[[int, int], None]
#: Every attack batch has this many images (the last one of a cell padded): one graph per source. Small,
#: because the padding is waste: a cell holds about limit × draws / cells images (10 in the v2 run;
#: batches of 25, v1's, would have attacked 2.5 times as many images as kept: on a CPU an attack
#: costs per image attacked, padding included).
ATTACK_BATCH = 5


@dataclass(frozen=True)
class Cell:
    """One (attack, sources, ε) of the training distribution."""

    attack: str
    sources: tuple[str, ...]
    eps: int

    @property
    def key(self) -> str:
        if not self.sources:  # an attack with its own models (the FCN)
            return f"{self.attack}@{self.eps}"
        short = "+".join(s.removeprefix("efficientnet-") for s in self.sources)
        return f"{self.attack}[{short}]@{self.eps}"


def all_cells(settings: TrainSettings) -> list[Cell]:
    """Every cell, grouped by sources (so a source's sessions serve all its cells in a row)."""
    return [Cell(a, s, e) for a, s, e in settings.cells()]


def assign_cells(n_images: int, settings: TrainSettings) -> dict[Cell, list[int]]:
    """For each image, ``draws`` distinct cells drawn uniformly; the image positions of every cell."""
    cells = all_cells(settings)
    draws = settings.draws
    rng = np.random.default_rng(derive_seed(settings.seed, "hgd", "cells"))
    plan: dict[Cell, list[int]] = {c: [] for c in cells}
    for i in range(n_images):
        for k in rng.choice(len(cells), size=draws, replace=False):
            plan[cells[int(k)]].append(i)
    return {c: idx for c, idx in plan.items() if idx}


@dataclass
class TrainingSet:
    """Clean training images and their adversarial copies; ``source[k]`` is the clean image of
    ``adv[k]``."""

    image_ids: list[str]
    clean: U8
    adv: U8
    source: npt.NDArray[np.int64]

    def __len__(self) -> int:
        """Samples: every adversarial copy and every clean image (as its own input)."""
        return len(self.adv) + len(self.clean)

    def pair(self, k: int) -> tuple[U8, U8]:
        """(input, clean) of sample ``k``: an adversarial copy, or a clean image with itself."""
        if k < len(self.adv):
            return self.adv[k], self.clean[self.source[k]]
        return self.clean[k - len(self.adv)], self.clean[k - len(self.adv)]


def training_split(settings: RunSettings, limit: int | None = None) -> Dataset:
    """The dataset without its first ``holdout`` images (and only ``limit`` of the rest)."""
    ds = load_dataset(Path(settings.data))
    if len(ds) <= settings.holdout:
        raise DatasetError(
            f"{settings.data} has {len(ds)} images, none left to train on after holding out "
            f"{settings.holdout}; lower --holdout or give more images"
        )
    end = len(ds) if limit is None else min(len(ds), settings.holdout + limit)
    return ds.take(range(settings.holdout, end))


def _load_cell(path: Path, ids: list[str], shape: tuple[int, ...]) -> U8 | None:
    """The cell's stored images if the file holds exactly these image ids as uint8 images of
    ``shape`` (h, w, 3), else None (redo it)."""
    if not path.is_file():
        return None
    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as z:
            if list(z["ids"]) != ids:
                return None
            adv: U8 = z["adv"]
    # A truncated or damaged cache file (an interrupted copy, a full disk) is rebuilt, not trusted:
    # the zip layer, the npy header and the deflate stream each fail their own way.
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    return adv if adv.dtype == np.uint8 and adv.shape == (len(ids), *shape) else None


def _save_cell(path: Path, ids: list[str], adv: U8) -> None:
    buf = io.BytesIO()
    np.savez(buf, ids=np.asarray(ids), adv=adv)
    atomic_write(path, buf.getvalue())


def _free_sources() -> None:
    """Drop the finished sources and their ONNX Runtime sessions: each holds gigabytes of arena
    memory, and the shared-session cache would keep them alive after the sources are gone (three
    sources' sessions got a 23 GB machine's training-set run killed for memory)."""
    clear_sources()
    clear_sessions()
    gc.collect()


def _attack_cell(cell: Cell, images: U8, seed: int, context: RunContext | None) -> U8:
    """The cell's attack on ``images`` in batches of ATTACK_BATCH, the last one padded with copies of
    its last image: every batch runs the same graph (a graph and session per batch size would add up
    to gigabytes), and these attacks treat every image of a batch on its own."""
    attack = build_attack(cell.attack, {}, cell.sources, context)
    parts = []
    for start in range(0, len(images), ATTACK_BATCH):
        chunk = images[start : start + ATTACK_BATCH]
        pad = ATTACK_BATCH - len(chunk)
        batch = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)]) if pad else chunk
        out = attack(batch, eps=cell.eps, seed=derive_seed(seed, "hgd", cell.key, start))
        parts.append(out[: len(chunk)])
    return np.concatenate(parts)


def prepare_training_set(
    settings: TrainSettings,
    cache_dir: Path,
    *,
    context: RunContext | None = None,
    progress: DataProgress | None = None,
) -> TrainingSet:
    """The training set of ``settings``, attacking only the cells missing from ``cache_dir``."""
    train = training_split(settings, settings.limit)
    clean = train.read_images()
    plan = assign_cells(len(train), settings)
    total = sum(len(v) for v in plan.values())
    done = 0
    advs: list[U8] = []
    sources: list[npt.NDArray[np.int64]] = []
    last: tuple[str, tuple[str, ...]] | None = None
    for cell, positions in plan.items():
        ids = [train.image_ids[i] for i in positions]
        path = cache_dir / f"{cell.key}.npz"
        adv = _load_cell(path, ids, clean.shape[1:])
        if adv is None:
            if last is not None and last != (cell.attack, cell.sources):
                _free_sources()  # one attack's sessions at a time: each holds gigabytes of arena memory
            last = (cell.attack, cell.sources)
            adv = _attack_cell(cell, clean[positions], settings.seed, context)
            _save_cell(path, ids, adv)
        done += len(positions)
        if progress is not None:
            progress(done, total)
        advs.append(adv)
        sources.append(np.asarray(positions, np.int64))
    _free_sources()
    return TrainingSet(list(train.image_ids), clean, np.concatenate(advs), np.concatenate(sources))


__all__ = ["Cell", "TrainingSet", "all_cells", "assign_cells", "prepare_training_set", "training_split"]
