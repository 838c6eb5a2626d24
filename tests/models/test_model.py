"""``advengine.Model``: zoo models and in-memory imports as objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from advengine.errors import ModelError, ModelNotFoundError
from advengine.models import Model, get_manifest, list_models
from advengine.models.locations import user_manifest_dir

from .conftest import tiny_classifier


@pytest.mark.usefixtures("zoo_env")
def test_from_onnx_imports_in_memory_without_registering(tmp_path: Path) -> None:
    path = tiny_classifier(tmp_path / "tiny.onnx", size=8)
    model = Model.from_onnx(path, normalization="none")
    assert model.name.startswith("onnx-")
    assert model.input_size == 8
    assert model.name in list_models()  # known to this process: attacks can take it by name
    assert not user_manifest_dir().exists() or not list(user_manifest_dir().glob("*.json"))
    same = Model.from_onnx(path.read_bytes(), normalization="none")
    assert same.name == model.name  # bytes or path: the same model, named by its digest


@pytest.mark.usefixtures("zoo_env")
def test_logits_and_labels_of_any_size_and_layout(tmp_path: Path) -> None:
    model = Model.from_onnx(tiny_classifier(tmp_path / "tiny.onnx", size=8), normalization="none")
    x = np.random.default_rng(0).integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    logits = model(x)
    assert logits.shape == (3, 1000)
    assert logits.dtype == np.float32
    labels = model.predict(x)
    np.testing.assert_array_equal(labels, np.argmax(logits, axis=1) + 1)
    # float NCHW of the same pixels gives the same labels; a tensor comes back as a tensor
    f = torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    got = model.predict(f)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), labels)
    assert model.predict(x[0]).shape == ()
    assert model.accuracy(x, labels) == 1.0


@pytest.mark.usefixtures("zoo_env")
def test_register_persists_under_a_name(tmp_path: Path) -> None:
    model = Model.from_onnx(tiny_classifier(tmp_path / "tiny.onnx", size=8), normalization="none")
    mine = model.register("mine")
    assert mine.name == "mine"
    assert get_manifest("mine").origin == "registered"
    assert (user_manifest_dir() / "mine.onnx").is_file()
    x = np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(mine(x), model(x), rtol=1e-6)
    with pytest.raises(ModelError, match=r"only Model\.from_onnx models are registered"):
        Model.load("mine").register("again")


@pytest.mark.usefixtures("zoo_env")
def test_an_unknown_name_points_at_models_import() -> None:
    with pytest.raises(ModelNotFoundError, match="advengine models import"):
        Model.load("no-such-model")


def test_a_zoo_model_classifies_the_sample() -> None:
    from advengine.data import load_dataset, sample_dataset_dir

    ds = load_dataset(sample_dataset_dir()).head(4)
    model = Model.load("efficientnet-lite0")
    assert model.accuracy(ds.read_images(), ds.true_labels) >= 0.75
