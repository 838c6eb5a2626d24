"""The training set: cells drawn per image, the hold-out never read, cached cells reused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from advengine.errors import DatasetError
from advengine.kernels import write_png_batch
from advengine.training import train_settings
from advengine.training import trainset as ts
from advengine.training.trainset import assign_cells, prepare_training_set

from ..models.conftest import tiny_classifier, user_manifest, write_json
from .conftest import GUIDE


def image_dir(path: Path, n: int) -> Path:
    path.mkdir()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 299, 299, 3), dtype=np.uint8)
    write_png_batch(images, [path / f"img{i:02d}.png" for i in range(n)])
    return path


@pytest.fixture
def sources(guide_env: Path) -> tuple[str, str]:
    """Two tiny source models beside the guide."""
    names = ("tiny-a", "tiny-b")
    for i, name in enumerate(names):
        onnx_path = tiny_classifier(guide_env / f"{name}.onnx")
        data = user_manifest(onnx_path, name=name)
        data["description"] = f"source {i}"
        write_json(guide_env / f"{name}.json", data)
    return names


def test_cells_are_distinct_per_image_and_seeded(tmp_path: Path, sources: tuple[str, str]) -> None:
    s = train_settings(
        {"target": GUIDE, "data": tmp_path, "sources": ",".join(sources), "draws": 3, "seed": 5}
    )
    # 3 attacks × (tiny-a, tiny-b, tiny-a+tiny-b) × 4 ε = 36 cells, and the FCN's 4 (no sources).
    plan = assign_cells(50, s)
    per_image: dict[int, list[str]] = {}
    for cell, positions in plan.items():
        for i in positions:
            per_image.setdefault(i, []).append(cell.key)
    assert sorted(per_image) == list(range(50))
    assert all(len(set(keys)) == 3 == len(keys) for keys in per_image.values())
    assert {c.sources for c in plan} <= {("tiny-a",), ("tiny-b",), sources, ()}
    assert {c.key for c in plan if not c.sources} <= {"fcn@4", "fcn@8", "fcn@12", "fcn@16"}
    assert assign_cells(50, s) == plan


def test_prepare_holds_out_attacks_and_reuses_the_cache(
    tmp_path: Path, sources: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = image_dir(tmp_path / "data", 5)
    s = train_settings(
        {
            "target": GUIDE,
            "data": data,
            "sources": sources[0],
            "attacks": "fgsm",
            "epsilons": "8",
            "draws": 1,
            "holdout": 2,
        }
    )
    seen: list[tuple[int, int]] = []
    built = prepare_training_set(s, tmp_path / "cache", progress=lambda d, t: seen.append((d, t)))
    assert built.image_ids == ["img02", "img03", "img04"]
    assert len(built) == 6  # 3 adversarial copies and the 3 clean images
    assert seen[-1] == (3, 3)
    diff = np.abs(built.adv.astype(int) - built.clean[built.source].astype(int))
    assert diff.max() <= 8
    assert diff.max() > 0

    def no_attacks(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached cell was attacked again")

    monkeypatch.setattr(ts, "build_attack", no_attacks)
    again = prepare_training_set(s, tmp_path / "cache")
    np.testing.assert_array_equal(again.adv, built.adv)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated: BadZipFile
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 40),
        lambda p: np.savez(p.with_suffix(""), ids=np.asarray(["img02"]), adv=np.zeros((1, 2), np.uint8)),
        lambda p: np.savez(p.with_suffix(""), ids=np.asarray(["img02"]), adv=np.zeros((1, 299, 299, 3))),
    ],
    ids=["truncated", "empty", "zip-header-only", "wrong-shape", "wrong-dtype"],
)
def test_a_damaged_cached_cell_is_rebuilt(
    damage: Callable[[Path], None], tmp_path: Path, sources: tuple[str, str]
) -> None:
    """Issue 29: ``train hgd --resume`` on a truncated cell ended as "internal error: BadZipFile"."""
    data = image_dir(tmp_path / "data", 3)
    s = train_settings(
        {"target": GUIDE, "data": data, "sources": sources[0], "attacks": "fgsm", "epsilons": "8",
         "draws": 1, "holdout": 2}
    )  # fmt: skip
    built = prepare_training_set(s, tmp_path / "cache")
    (cell,) = (tmp_path / "cache").glob("*.npz")
    damage(cell)
    again = prepare_training_set(s, tmp_path / "cache")
    np.testing.assert_array_equal(again.adv, built.adv)  # the same seeded attack, redone


def test_nothing_left_to_train_on(tmp_path: Path, sources: tuple[str, str]) -> None:
    data = image_dir(tmp_path / "data", 2)
    s = train_settings({"target": GUIDE, "data": data, "sources": sources[0], "holdout": 2, "draws": 1})
    with pytest.raises(DatasetError, match="none left to train on after holding out 2"):
        prepare_training_set(s, tmp_path / "cache")


def test_limit_keeps_the_first_training_images(tmp_path: Path, sources: tuple[str, str]) -> None:
    data = image_dir(tmp_path / "data", 5)
    s = train_settings({"target": GUIDE, "data": data, "sources": sources[0], "holdout": 1, "limit": 2})
    assert list(ts.training_split(s, s.limit).image_ids) == ["img01", "img02"]
    assert list(ts.training_split(s, 10).image_ids) == ["img01", "img02", "img03", "img04"]
