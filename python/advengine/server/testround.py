"""The test-round protocol of NIPS 2017 (``mode = "uploads"``): teams upload adversarial images for
the round's images, the organiser closes the attack phase and the server releases every attack's
images (and the clean ones) under opaque ids, teams upload labels for them, and the engine scores it
all like any round (through the entries of :mod:`advengine.server.uploaded`).

ε is the rule it always is: an uploaded image is checked with the organiser's projection
(:func:`~advengine.competition.projection.project_outputs`); one the projection would change is over
its batch's ε, and is refused and reported with its L∞ distance, never silently clipped."""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from advengine.competition.config import CompetitionConfig
from advengine.competition.engine import eps_schedule
from advengine.competition.projection import project_outputs
from advengine.competition.state import RunDir
from advengine.data import Dataset, load_dataset, sample_dataset_dir
from advengine.errors import AdvEngineError
from advengine.kernels import read_png_batch, write_png_batch
from advengine.server.db import Released
from advengine.server.uploaded import image_key
from advengine.submissions.archive import extract_archive
from advengine.submissions.reaper import release as release_scratch
from advengine.submissions.reaper import temp_dir
from advengine.submissions.runner import MISSING, parse_defense_csv
from advengine.types import CLEAN


@dataclasses.dataclass
class Checked:
    """What an upload of images or labels came to: how many were taken, and each problem."""

    accepted: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "problems": self.problems}

    def summary(self) -> str | None:
        if not self.problems:
            return None
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        return "; ".join(self.problems[:5]) + more


def round_images(cfg: CompetitionConfig) -> tuple[Dataset, dict[str, int]]:
    """The round's dataset and each image's ε (its batch's, as the engine assigns them)."""
    ds = load_dataset(cfg.dataset_dir if cfg.dataset_dir is not None else sample_dataset_dir())
    if cfg.limit is not None:
        ds = ds.head(cfg.limit)
    n_batches = -(-len(ds) // cfg.batch_size)
    schedule = eps_schedule(n_batches, cfg.eps, cfg.seed)
    return ds, {i: schedule[k // cfg.batch_size] for k, i in enumerate(ds.image_ids)}


def check_images(cfg: CompetitionConfig, archive: Path, dest: Path) -> Checked:
    """Unpack an archive of ``<ImageId>.png`` and keep, in ``dest`` as ``<key of the clean
    image>.png``, each image within its ε; report every other one."""
    ds, eps = round_images(cfg)
    index = {i: k for k, i in enumerate(ds.image_ids)}
    scratch = temp_dir("advengine-images-")
    out = Checked()
    try:
        root = extract_archive(archive, scratch / "x")
        dest.mkdir(parents=True, exist_ok=True)
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            image_id = path.stem
            if path.suffix.lower() != ".png" or image_id not in index:
                out.problems.append(f"{path.name}: not <ImageId>.png of an image of this round")
                continue
            try:
                adv = read_png_batch([path], strict=True)
            except AdvEngineError as exc:
                out.problems.append(f"{path.name}: {' '.join(str(exc).split())}")
                continue
            clean = ds.read_images(index[image_id], index[image_id] + 1)
            if adv.shape != clean.shape:
                out.problems.append(
                    f"{path.name}: {adv.shape[1]}x{adv.shape[2]}, not {clean.shape[1]}x{clean.shape[2]}"
                )
                continue
            projected = project_outputs(adv, clean, eps[image_id])
            if not np.array_equal(projected, adv):
                dist = int(np.abs(adv.astype(np.int16) - clean.astype(np.int16)).max())
                out.problems.append(f"{image_id}: L∞ {dist} > ε {eps[image_id]} (refused, not clipped)")
                continue
            write_png_batch(adv, [dest / f"{image_key(clean[0])}.png"])
            out.accepted += 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        release_scratch(scratch)
    return out


def release(sessions: Any, round_name: str, run: Path, cfg: CompetitionConfig) -> Path:
    """Give every attack's images of the round (and the clean images) opaque ids, record them, and
    write them into ``run/released.zip`` as ``<opaque id>.png``; returns its path."""
    run_dir = RunDir(run)
    ds, _ = round_images(cfg)
    items: list[tuple[str, bytes]] = []
    for attack in (CLEAN, *(e.label for e in cfg.all_attacks)):
        for k, image_id in enumerate(ds.image_ids):
            path = ds.image_paths[k] if attack == CLEAN else run_dir.adv_image(attack, image_id)
            if path.is_file():
                items.append((image_key(read_png_batch([path], strict=True)[0]), path.read_bytes()))
    rng = secrets.SystemRandom()
    rng.shuffle(items)  # the order tells nothing either
    out = run / "released.zip"
    rows = []
    with zipfile.ZipFile(out.with_suffix(".tmp"), "w", zipfile.ZIP_STORED) as zf:
        for key, data in items:
            opaque = secrets.token_hex(8)
            zf.writestr(f"{opaque}.png", data)
            rows.append(Released(opaque_id=opaque, round=round_name, image_key=key))
    out.with_suffix(".tmp").replace(out)
    with sessions.begin() as s:
        s.execute(delete(Released).where(Released.round == round_name))
        s.add_all(rows)
    return out


def check_labels(sessions: Any, round_name: str, csv_path: Path, dest: Path) -> Checked:
    """Read a labels CSV (``<opaque id>[.png],label`` rows, the original result.csv leniency) into
    ``dest`` as ``{image key: label}``; an opaque id it does not label is reported."""
    with sessions() as s:
        released = s.scalars(select(Released).where(Released.round == round_name)).all()
        ids = [r.opaque_id for r in released]
        keys = [r.image_key for r in released]
    text = csv_path.read_text(encoding="utf-8", errors="replace")
    labels = parse_defense_csv(text, [f"{i}.png" for i in ids])
    table = {key: int(v) for key, v in zip(keys, labels.tolist(), strict=True) if v != MISSING}
    out = Checked(accepted=len(table))
    unlabelled = [i for i, v in zip(ids, labels.tolist(), strict=True) if v == MISSING]
    if unlabelled:
        out.problems.append(f"{len(unlabelled)} of {len(ids)} released images have no label (counted wrong)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(table), encoding="utf-8")
    return out


__all__ = ["Checked", "check_images", "check_labels", "release", "round_images"]
