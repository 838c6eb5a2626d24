"""Hand-made run directories: run.json, piece records and adversarial PNGs written directly, so each
test knows every label and second it will read back.

The run: the first 8 images of the embedded sample in 2 batches of 4 (ε 4 then 8); attacks ``noop``
(a baseline), ``fgsm-x`` and the targeted ``tgt``; defenses ``good`` (a baseline) and ``bad``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from advengine.data import Dataset, load_dataset, sample_dataset_dir

ATTACKS = [
    {"track": "nontargeted", "name": "noop", "label": "noop", "params": {}, "models": []},
    {"track": "nontargeted", "name": "fgsm", "label": "fgsm-x", "params": {}, "models": ["m"]},
]
TARGETED = [{"track": "targeted", "name": "iter-target-class", "label": "tgt", "params": {}, "models": ["m"]}]
DEFENSES = [
    {"track": "defense", "name": "classifier", "label": "good", "params": {}, "models": ["m"]},
    {"track": "defense", "name": "median", "label": "bad", "params": {}, "models": ["m"]},
]
LIMIT, BATCH = 8, 4


def sample8() -> Dataset:
    return load_dataset(sample_dataset_dir()).head(LIMIT)


def config(dataset_dir: str | None = None, scoring: str = "paper") -> dict[str, Any]:
    return {
        "dataset": {"dir": dataset_dir, "limit": LIMIT},
        "batch_size": BATCH,
        "eps": "cycle",
        "time_limit": 30.0,
        "seed": 0,
        "scoring": scoring,
        "providers": ["CPUExecutionProvider"],
        "plugins": [],
        "attacks": ATTACKS,
        "targeted_attacks": TARGETED,
        "defenses": DEFENSES,
    }


class RunBuilder:
    """Writes one piece at a time into ``root``."""

    def __init__(self, root: Path, cfg: dict[str, Any]) -> None:
        self.root = root
        self.ds = sample8()
        root.mkdir(parents=True)
        (root / "run.json").write_text(
            json.dumps({"fingerprint": "x", "config": {"config": cfg, "dataset_hash": "d" * 64}})
        )

    def ids(self, batch: int) -> list[str]:
        return self.ds.image_ids[batch * BATCH : (batch + 1) * BATCH]

    def attack(
        self, label: str, batch: int, *, status: str = "ok", seconds: float = 1.0, shift: int = 0
    ) -> None:
        ids = self.ids(batch) if status == "ok" else []
        eps = (4, 8)[batch]
        if ids:
            clean = self.ds.read_images(batch * BATCH, (batch + 1) * BATCH)
            adv = np.clip(clean.astype(np.int16) + min(shift, eps), 0, 255).astype(np.uint8)
            (self.root / "adv" / label).mkdir(parents=True, exist_ok=True)
            for image_id, img in zip(ids, adv, strict=True):
                Image.fromarray(img).save(self.root / "adv" / label / f"{image_id}.png")
        rec = {
            "piece": f"attack/{label}/b{batch:04d}",
            "status": status,
            "seconds": seconds,
            "eps": eps,
            "image_ids": ids,
            "output_hash": "h" if ids else None,
            "error": None if status == "ok" else "RuntimeError: boom",
        }
        self._write(self.root / "pieces" / "attack" / label / f"b{batch:04d}.json", rec)

    def defense(
        self,
        label: str,
        target: str,
        batch: int,
        labels: list[int] | None,
        *,
        status: str = "ok",
        seconds: float = 0.5,
    ) -> None:
        rec = {
            "piece": f"defense/{label}/{target}/b{batch:04d}",
            "status": status,
            "seconds": seconds,
            "image_ids": self.ids(batch),
            "labels": labels,
            "input_hash": None,
            "output_hash": None,
            "error": None if status == "ok" else "TimeoutError: over the limit",
        }
        self._write(self.root / "pieces" / "defense" / label / target / f"b{batch:04d}.json", rec)

    def truth(self, batch: int) -> list[int]:
        assert self.ds.true_labels is not None
        return [int(v) for v in self.ds.true_labels[batch * BATCH : (batch + 1) * BATCH]]

    def targets(self, batch: int) -> list[int]:
        assert self.ds.target_classes is not None
        return [int(v) for v in self.ds.target_classes[batch * BATCH : (batch + 1) * BATCH]]

    @staticmethod
    def _write(path: Path, rec: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))


def results_json(attacks: list[tuple[str, float | None]]) -> str:
    """A minimal valid results.json whose non-targeted attacks have these (name, score)."""
    entries = [
        {
            "name": name, "entry": name, "track": "nontargeted", "params": {}, "models": [],
            "score": score, "raw_score": 0, "normalized_score": score, "worst_score": None,
            "excluded": False, "median_batch_seconds": None, "pieces": {}, "errors": [],
        }
        for name, score in attacks
    ]  # fmt: skip
    matrices = {k: [] for k in ("attacks", "defenses", "correct", "error", "hit", "classified")}
    return json.dumps(
        {
            "schema": "advengine.eval/1", "mode": "paper", "seed": 0,
            "dataset": {"dir": "d", "images": LIMIT, "hash": "h", "limit": LIMIT}, "eps_values": [4, 8],
            "batches": [], "config": {}, "attacks": entries, "defenses": [], "exclusions": [],
            "per_eps": [], "matrices": matrices,
        }
    )  # fmt: skip


def wrong(labels: list[int]) -> list[int]:
    """A label that is neither the true one nor 0."""
    return [1 if v != 1 else 2 for v in labels]


def full_run(b: RunBuilder) -> None:
    """Every piece: ``good`` is right on everything but ``fgsm-x`` at ε 8 and ``tgt`` (which hits its
    target on batch 1); ``bad`` is always wrong."""
    for batch in (0, 1):
        b.attack("noop", batch, seconds=0.2)
        b.attack("fgsm-x", batch, seconds=2.0 + batch, shift=255)
        b.attack("tgt", batch, seconds=4.0, shift=255)
        t = b.truth(batch)
        b.defense("good", "clean", batch, t)
        b.defense("bad", "clean", batch, wrong(t))
        b.defense("good", "noop", batch, t)
        b.defense("good", "fgsm-x", batch, t if batch == 0 else wrong(t))
        b.defense("good", "tgt", batch, t if batch == 0 else b.targets(batch))
        for target in ("noop", "fgsm-x", "tgt"):
            b.defense("bad", target, batch, wrong(t))


Builder = Callable[..., RunBuilder]


@pytest.fixture
def builder(tmp_path: Path) -> Builder:
    def make(name: str = "run", **cfg: Any) -> RunBuilder:
        return RunBuilder(tmp_path / name, config(**cfg))

    return make
