"""``denoised`` models: a denoiser file (sha256-checked on every load) composed with a zoo classifier."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest

from advengine.errors import ModelError
from advengine.models import ensure_onnx, get_manifest, list_models, load_classifier
from advengine.models.denoised import compose_denoised
from advengine.models.dunet import DunetConfig, build_dunet, init_params

from .conftest import tiny_classifier, user_manifest, write_json


def denoiser_file(path: Path, size: int = 8) -> Path:
    config = DunetConfig(size, (2, 4))
    params = init_params(config, 0)
    params["dunet.dec1.bias"] += np.float32(0.1)  # D(x) = 0.1 everywhere: x̂ = x − 0.1
    onnx.save(build_dunet(config, params), str(path))
    return path


@pytest.fixture
def zoo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    tiny = tiny_classifier(zoo / "tiny.onnx")
    write_json(zoo / "tiny.json", user_manifest(tiny))
    den = denoiser_file(zoo / "den.onnx")
    write_json(
        zoo / "tiny-den.json",
        {
            "schema": 1,
            "name": "tiny-den",
            "source": {
                "kind": "denoised",
                "classifier": "tiny",
                "denoiser": "den.onnx",
                "sha256": hashlib.sha256(den.read_bytes()).hexdigest(),
            },
            "input_size": 8,
            "labels": {"convention": "tf-slim-index-plus-1", "classes": 1000},
        },
    )
    monkeypatch.setenv("ADVENGINE_MODEL_PATH", str(zoo))
    monkeypatch.setenv("ADVENGINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ADVENGINE_CONFIG", str(tmp_path / "config"))
    return zoo


def test_composed_model_is_the_classifier_of_the_denoised_image(zoo_dir: Path) -> None:
    m = get_manifest("tiny-den")
    assert (m.source_kind, m.classifier, m.onnx_path) == ("denoised", "tiny", zoo_dir / "den.onnx")
    assert "tiny-den" in list_models()
    assert "tiny-den" not in list_models(denoised=False)
    x = np.random.default_rng(0).random((3, 3, 8, 8), dtype=np.float32)
    composed = load_classifier("tiny-den").logits(x)
    np.testing.assert_allclose(
        composed, load_classifier("tiny").logits(x - np.float32(0.1)), rtol=1e-5, atol=1e-5
    )
    path = ensure_onnx("tiny-den")
    assert path.parent.name == "models"
    assert ensure_onnx("tiny-den") == path  # cached


def test_changed_denoiser_weights_are_refused(zoo_dir: Path) -> None:
    ensure_onnx("tiny-den")
    den = zoo_dir / "den.onnx"
    den.write_bytes(den.read_bytes() + b"\0")  # any change of the bytes, even a cached build's
    with pytest.raises(
        ModelError, match=r"model tiny-den: .*den\.onnx has sha256 [0-9a-f]{64} but the manifest says"
    ):
        load_classifier("tiny-den")
    (zoo_dir / "den.onnx").unlink()
    with pytest.raises(ModelError, match=r"\(its denoiser\) is missing"):
        ensure_onnx("tiny-den")


def test_the_denoiser_must_fit_the_classifier(tmp_path: Path) -> None:
    tiny = onnx.load(str(tiny_classifier(tmp_path / "t.onnx")))
    wrong = onnx.load(str(denoiser_file(tmp_path / "d.onnx", size=16)))
    with pytest.raises(
        ModelError, match=r"the denoiser's 'input' has shape \['N', 3, 16, 16\], but the classifier takes"
    ):
        compose_denoised(wrong, tiny, input_size=8, name="x")
    with pytest.raises(ModelError, match="a denoiser maps one input 'input' to one output 'denoised'"):
        compose_denoised(tiny, tiny, input_size=8, name="x")
