"""The LGD trainer on a toy problem: a tiny pixel-linear guide and a checkerboard "attack"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from advengine.errors import CheckpointError, ConfigError
from advengine.models import get_manifest, load_classifier
from advengine.models.dunet import DunetConfig, build_dunet, init_params
from advengine.training import TrainSettings, train_settings
from advengine.training.checkpoint import load_checkpoint
from advengine.training.loop import SNAPSHOTS, load_snapshot
from advengine.training.trainer import CHECKPOINT, draw_batch, first_state, sides, train_hgd

from ..models.conftest import tiny_classifier, user_manifest, write_json
from .conftest import GUIDE, pixel_classifier, toy_set

POOLED = "tiny-pooled"
WIDE = "tiny-wide"


def settings(data: Path, **over: object) -> TrainSettings:
    values: dict[str, object] = {
        "target": GUIDE,
        "data": str(data),
        "channels": "4,8",
        "batch_size": 2,
        "shift": 2,
        "checkpoint_every": 3,
        **over,
    }
    return train_settings(values)


@pytest.mark.usefixtures("guide_env")
def test_loss_decreases_on_a_toy_problem(tmp_path: Path) -> None:
    toy = settings(tmp_path, shift=0, channels="8,8", lr=0.002, seed=1)
    result = train_hgd(toy, tmp_path / "run", 400, data=toy_set())
    losses = np.array(load_checkpoint(tmp_path / "run" / CHECKPOINT).losses)
    assert len(losses) == result.steps == 400
    assert losses[-40:].mean() < 0.5 * losses[:40].mean()


@pytest.mark.usefixtures("guide_env")
def test_resume_continues_exactly(tmp_path: Path) -> None:
    s = settings(tmp_path)
    train_hgd(s, tmp_path / "whole", 9, data=toy_set())
    train_hgd(s, tmp_path / "pieces", 3, data=toy_set())
    train_hgd(s, tmp_path / "pieces", 6, data=toy_set(), resume=True)
    train_hgd(s, tmp_path / "pieces", 9, data=toy_set(), resume=True)
    whole = load_checkpoint(tmp_path / "whole" / CHECKPOINT)
    pieces = load_checkpoint(tmp_path / "pieces" / CHECKPOINT)
    assert pieces.step == whole.step == 9
    assert pieces.losses == whole.losses
    for name, p in whole.params.items():
        np.testing.assert_array_equal(pieces.params[name], p)
        np.testing.assert_array_equal(pieces.adam_m[name], whole.adam_m[name])
    assert pieces.rng_state == whole.rng_state
    assert [s["start_step"] for s in pieces.sessions] == [0, 3, 6]


@pytest.mark.usefixtures("guide_env")
def test_a_new_run_refuses_an_existing_one_and_resume_needs_the_same_settings(tmp_path: Path) -> None:
    train_hgd(settings(tmp_path, lr=0.001), tmp_path / "run", 3, data=toy_set())
    with pytest.raises(ConfigError, match="already holds a training run; pass --resume"):
        train_hgd(settings(tmp_path, lr=0.001), tmp_path / "run", 3, data=toy_set())
    with pytest.raises(ConfigError, match=r"--resume: lr is 0\.002 but the run in .* used 0\.001"):
        train_hgd(settings(tmp_path, lr=0.002), tmp_path / "run", 6, data=toy_set(), resume=True)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        train_hgd(settings(tmp_path), tmp_path / "other", 3, data=toy_set(), resume=True)


def test_the_export_is_a_model_of_the_zoo(
    tmp_path: Path, guide_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = train_hgd(settings(tmp_path), tmp_path / "run", 6, data=toy_set(), name="toy-hgd")
    assert result.manifest is not None
    assert result.manifest.name == "toy-hgd.json"
    monkeypatch.setenv("ADVENGINE_MODEL_PATH", f"{guide_env}:{tmp_path / 'run'}")
    m = get_manifest("toy-hgd")
    assert (m.source_kind, m.classifier, m.input_size) == ("denoised", GUIDE, 16)
    # The composed classifier is the guide applied to x − D(x), with the trained D.
    clf = load_classifier("toy-hgd")
    x = np.random.default_rng(1).random((2, 3, 16, 16), dtype=np.float32)
    assert clf.logits(x).shape == (2, 1000)
    assert not np.allclose(clf.logits(x), load_classifier(GUIDE).logits(x))


@pytest.mark.usefixtures("guide_env")
def test_no_steps_exports_nothing(tmp_path: Path) -> None:
    result = train_hgd(settings(tmp_path), tmp_path / "run", 0, data=toy_set())
    assert (result.steps, result.model, result.manifest, result.loss) == (0, None, None, None)
    assert not (tmp_path / "run" / CHECKPOINT).exists()


@pytest.fixture
def two_more(guide_env: Path) -> tuple[str, str]:
    """A 16-pixel guide that pools globally (it runs at any side, like an EfficientNet) and a
    24-pixel pixel-linear classifier to deploy the denoiser for."""
    pooled = tiny_classifier(guide_env / "pooled.onnx", 16)
    write_json(guide_env / "pooled.json", user_manifest(pooled, name=POOLED, size=16))
    wide = pixel_classifier(guide_env / "wide.onnx", 24)
    write_json(guide_env / "wide.json", user_manifest(wide, name=WIDE, size=24))
    return POOLED, WIDE


def test_a_cheaper_guide_on_crops_trains_a_denoiser_for_the_deployed_model(
    tmp_path: Path, two_more: tuple[str, str]
) -> None:
    s = settings(tmp_path, target=POOLED, deploy=WIDE, crop=12)
    assert sides(s) == (24, 12)
    result = train_hgd(s, tmp_path / "run", 4, data=toy_set())
    assert (result.steps, result.images_seen) == (4, 8)
    assert result.manifest is not None
    manifest = read_manifest_json(result.manifest)
    assert (manifest["source"]["classifier"], manifest["input_size"]) == (WIDE, 24)
    assert result.model == tmp_path / "run" / f"{WIDE}-hgd.onnx"
    snaps = sorted(p.name for p in (tmp_path / "run" / SNAPSHOTS).iterdir())
    assert snaps == ["step-000003.npz", "step-000004.npz"]
    last = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    for name, p in load_snapshot(tmp_path / "run", 4).items():
        np.testing.assert_array_equal(p, last.params[name])


def read_manifest_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_an_input_and_its_clean_target_get_the_same_crop(tmp_path: Path, two_more: tuple[str, str]) -> None:
    s = settings(tmp_path, target=POOLED, deploy=WIDE, crop=12, batch_size=4)
    toy = toy_set()
    same = type(toy)(toy.image_ids, toy.clean, toy.clean.copy(), toy.source)  # "adversarial" = clean
    x, clean = draw_batch(same, np.random.default_rng(0), s, 24, 12)
    assert x.shape == clean.shape == (4, 3, 12, 12)
    np.testing.assert_array_equal(x, clean)
    y, _ = draw_batch(same, np.random.default_rng(1), s, 24, 12)
    assert not np.array_equal(x, y)


def test_a_crop_larger_than_the_denoiser_is_refused(tmp_path: Path, two_more: tuple[str, str]) -> None:
    with pytest.raises(ConfigError, match="--crop 20 is larger than the denoiser's side"):
        sides(settings(tmp_path, target=POOLED, crop=20))


def test_init_starts_from_trained_weights(tmp_path: Path, guide_env: Path) -> None:
    config = DunetConfig(16, (4, 8))
    trained = {k: v + 0.01 for k, v in init_params(config, 3).items()}
    path = tmp_path / "trained.onnx"
    path.write_bytes(build_dunet(config, trained).SerializeToString())
    s = settings(tmp_path, init=str(path), init_images=100)
    state = first_state(s, config)
    for name, p in trained.items():
        np.testing.assert_array_equal(state.params[name], p)
    assert train_hgd(s, tmp_path / "run", 1, data=toy_set()).images_seen == 102
    with pytest.raises(ConfigError, match="has channels 4,8, the run 2,4; give the same --channels"):
        first_state(settings(tmp_path, init=str(path), channels="2,4"), DunetConfig(16, (2, 4)))
    with pytest.raises(ConfigError, match="is not a readable ONNX file"):
        first_state(settings(tmp_path, init=str(tmp_path)), config)


@pytest.mark.usefixtures("guide_env")
def test_a_bad_init_is_refused_before_the_training_set_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the training images were attacked before --init was checked")

    monkeypatch.setattr("advengine.training.trainer.prepare_training_set", never)
    with pytest.raises(ConfigError, match="is not a readable ONNX file"):
        train_hgd(settings(tmp_path, init=str(tmp_path / "missing.onnx")), tmp_path / "run", 1)
