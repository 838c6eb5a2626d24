"""The LGD trainer on a toy problem: a tiny pixel-linear guide and a checkerboard "attack"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advengine.errors import CheckpointError, ConfigError
from advengine.models import get_manifest, load_classifier
from advengine.training import TrainSettings, train_settings
from advengine.training.checkpoint import load_checkpoint
from advengine.training.trainer import CHECKPOINT, run_training

from .conftest import GUIDE, toy_set


def settings(data: Path, **over: object) -> TrainSettings:
    values: dict[str, object] = {
        "target": GUIDE,
        "data": str(data),
        "channels": "4,8",
        "batch": 2,
        "shift": 2,
        "checkpoint_every": 3,
        **over,
    }
    return train_settings(values)


@pytest.mark.usefixtures("guide_env")
def test_loss_decreases_on_a_toy_problem(tmp_path: Path) -> None:
    toy = settings(tmp_path, shift=0, channels="8,8", lr=0.002, seed=1)
    result = run_training(toy, toy_set(), tmp_path / "run", 400)
    losses = np.array(load_checkpoint(tmp_path / "run" / CHECKPOINT).losses)
    assert len(losses) == result.steps == 400
    assert losses[-40:].mean() < 0.5 * losses[:40].mean()


@pytest.mark.usefixtures("guide_env")
def test_resume_continues_exactly(tmp_path: Path) -> None:
    s = settings(tmp_path)
    run_training(s, toy_set(), tmp_path / "whole", 9)
    run_training(s, toy_set(), tmp_path / "pieces", 3)
    run_training(s, toy_set(), tmp_path / "pieces", 6, resume=True)
    run_training(s, toy_set(), tmp_path / "pieces", 9, resume=True)
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
    run_training(settings(tmp_path, lr=0.001), toy_set(), tmp_path / "run", 3)
    with pytest.raises(ConfigError, match="already holds a training run; pass --resume"):
        run_training(settings(tmp_path, lr=0.001), toy_set(), tmp_path / "run", 3)
    with pytest.raises(ConfigError, match=r"--resume: lr is 0\.002 but the run in .* used 0\.001"):
        run_training(settings(tmp_path, lr=0.002), toy_set(), tmp_path / "run", 6, resume=True)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        run_training(settings(tmp_path), toy_set(), tmp_path / "other", 3, resume=True)


def test_the_export_is_a_model_of_the_zoo(
    tmp_path: Path, guide_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_training(settings(tmp_path), toy_set(), tmp_path / "run", 6, name="toy-hgd")
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
    result = run_training(settings(tmp_path), toy_set(), tmp_path / "run", 0)
    assert (result.steps, result.denoiser, result.manifest, result.loss) == (0, None, None, None)
    assert not (tmp_path / "run" / CHECKPOINT).exists()
