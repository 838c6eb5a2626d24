"""The attack-FCN trainer on tiny pixel-linear classifiers (16 and 12 pixels, so one source sits
behind a resize): −Σ CE falls, a resumed run is bit-identical to an uninterrupted one, and the export
is a manifest with the file's sha256."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from advengine.attacks.fcn import fcn_hint
from advengine.data.images import to_model_input
from advengine.errors import ConfigError, ParameterError
from advengine.models.fcn import FcnConfig, load_fcn, pack_input
from advengine.training import FcnSettings, fcn_settings
from advengine.training.checkpoint import load_checkpoint
from advengine.training.fcn_trainer import fcn_step, fcn_training_graph, new_state, train_attack_fcn
from advengine.training.loop import CHECKPOINT, SNAPSHOTS

from ..models.conftest import user_manifest, write_json
from .conftest import GUIDE, GUIDE_SIZE, pixel_classifier

SMALL = "tiny-guide-12"
F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]


@pytest.fixture
def two_sources(guide_env: Path) -> tuple[str, str]:
    """The 16-pixel guide and a 12-pixel pixel-linear classifier beside it."""
    path = pixel_classifier(guide_env / "small.onnx", 12)
    write_json(guide_env / "small.json", user_manifest(path, name=SMALL, size=12))
    return GUIDE, SMALL


def toy_images(n: int = 10, seed: int = 0) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    images = rng.integers(40, 216, size=(n, GUIDE_SIZE, GUIDE_SIZE, 3), dtype=np.uint8)
    return images, rng.integers(1, 1001, size=n).astype(np.int64)


def settings(data: Path, sources: tuple[str, str], **over: object) -> FcnSettings:
    values: dict[str, object] = {
        "data": str(data),
        "sources": ",".join(sources),
        "hint_model": GUIDE,
        "channels": "2,4",
        "batch_size": 2,
        "shift": 2,
        "checkpoint_every": 3,
        **over,
    }
    return fcn_settings(values)


def cross_entropy(s: FcnSettings, params: dict[str, F32], images: U8, labels: I64) -> float:
    """Σ CE of the sources on the FCN's output for ``images`` at ε = 16 (no augmentation)."""
    config = FcnConfig(GUIDE_SIZE, s.channels)
    whole = s.model_copy(update={"batch_size": len(images)})  # one graph run for every image
    step = fcn_step(fcn_training_graph(whole, config, None), params, len(images), GUIDE_SIZE, None)
    x = to_model_input(images)
    hint = fcn_hint(x, s.hint_model, None, side=GUIDE_SIZE)
    loss = step.run({"input": pack_input(x, hint, 16), "label": labels - 1})
    return len(s.sources) * float(loss.mean())


def test_training_raises_the_sources_cross_entropy(tmp_path: Path, two_sources: tuple[str, str]) -> None:
    s = settings(tmp_path, two_sources, lr=0.01, batch_size=4, shift=0, checkpoint_every=100)
    images, labels = toy_images(8)
    result = train_attack_fcn(s, tmp_path / "run", 100, data=(images, labels))
    trained = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    assert len(trained.losses) == result.steps == 100
    start = new_state(s, FcnConfig(GUIDE_SIZE, s.channels)).params
    before = cross_entropy(s, start, images, labels)
    after = cross_entropy(s, trained.params, images, labels)
    assert after > before + 1.0, (before, after)


def test_resume_continues_exactly(tmp_path: Path, two_sources: tuple[str, str]) -> None:
    s = settings(tmp_path, two_sources)
    images, labels = toy_images()
    train_attack_fcn(s, tmp_path / "whole", 9, data=(images, labels))
    for steps, resume in ((3, False), (6, True), (9, True)):
        train_attack_fcn(s, tmp_path / "pieces", steps, data=(images, labels), resume=resume)
    whole = load_checkpoint(tmp_path / "whole" / CHECKPOINT)
    pieces = load_checkpoint(tmp_path / "pieces" / CHECKPOINT)
    assert pieces.step == whole.step == 9
    assert pieces.losses == whole.losses
    assert pieces.adam_t == whole.adam_t == 9
    for name, p in whole.params.items():
        np.testing.assert_array_equal(pieces.params[name], p)
        np.testing.assert_array_equal(pieces.adam_m[name], whole.adam_m[name])
        np.testing.assert_array_equal(pieces.adam_v[name], whole.adam_v[name])
    assert pieces.rng_state == whole.rng_state
    assert [x["start_step"] for x in pieces.sessions] == [0, 3, 6]
    snaps = sorted(p.name for p in (tmp_path / "pieces" / SNAPSHOTS).iterdir())
    assert snaps == ["step-000003.npz", "step-000006.npz", "step-000009.npz"]
    with np.load(tmp_path / "pieces" / SNAPSHOTS / "step-000009.npz") as z:
        for name, p in whole.params.items():
            np.testing.assert_array_equal(z[name], p)


def test_new_runs_and_resumes_are_checked(tmp_path: Path, two_sources: tuple[str, str]) -> None:
    s = settings(tmp_path, two_sources)
    images, labels = toy_images()
    train_attack_fcn(s, tmp_path / "run", 3, data=(images, labels))
    with pytest.raises(ConfigError, match="already holds a training run"):
        train_attack_fcn(s, tmp_path / "run", 6, data=(images, labels))
    other = settings(tmp_path, two_sources, lr=0.5)
    with pytest.raises(ConfigError, match=r"--resume: lr is 0\.5 but the run"):
        train_attack_fcn(other, tmp_path / "run", 6, data=(images, labels), resume=True)


def test_the_export_is_a_checked_manifest(tmp_path: Path, two_sources: tuple[str, str]) -> None:
    s = settings(tmp_path, two_sources)
    images, labels = toy_images()
    result = train_attack_fcn(s, tmp_path / "run", 3, data=(images, labels))
    assert result.manifest == tmp_path / "run" / "attack-fcn.json"
    assert result.model == tmp_path / "run" / "attack-fcn.onnx"
    model, manifest = load_fcn(result.manifest)
    assert manifest.hint_model == GUIDE
    assert manifest.sources == two_sources
    assert (manifest.steps, manifest.images_seen) == (3, 6)
    assert model.graph.input[0].name == "input"
    data = json.loads(result.manifest.read_text())
    assert data["file"] == "attack-fcn.onnx"


def test_bad_settings_are_one_error(tmp_path: Path, two_sources: tuple[str, str]) -> None:
    with pytest.raises(ParameterError, match="unknown source model 'nope'"):
        settings(tmp_path, ("nope", SMALL))
    with pytest.raises(ConfigError, match="sources repeat a model"):
        settings(tmp_path, (GUIDE, GUIDE))
    with pytest.raises(ConfigError, match="batch_size"):
        settings(tmp_path, two_sources, batch_size=0)
