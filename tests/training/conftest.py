"""Fixtures of the training tests: a tiny guide classifier in a private zoo dir, and a toy training set
whose "attack" is a checkerboard pattern the guide sees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from advengine.training.trainset import TrainingSet

from ..models.conftest import user_manifest, write_json

GUIDE = "tiny-guide"
GUIDE_SIZE = 16


def pixel_classifier(path: Path, size: int) -> Path:
    """A small valid classifier whose logits are a linear function of every pixel (Flatten → Gemm),
    so the guide's loss tells a denoiser where in the image it went wrong."""
    rng = np.random.default_rng(0)
    features = 3 * size * size
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], transB=1),
    ]
    inits = [
        numpy_helper.from_array(rng.standard_normal((1000, features)).astype(np.float32), "w"),
        numpy_helper.from_array(np.zeros(1000, np.float32), "b"),
    ]
    graph = helper.make_graph(
        nodes,
        "pixel_guide",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def guide_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zoo with the bundled models plus ``tiny-guide`` (mean colour → Gemm, 16×16 input), found
    through ADVENGINE_MODEL_PATH; a private cache and config. Returns the model dir."""
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    onnx_path = pixel_classifier(zoo / "guide.onnx", GUIDE_SIZE)
    write_json(zoo / "guide.json", user_manifest(onnx_path, name=GUIDE, size=GUIDE_SIZE))
    monkeypatch.setenv("ADVENGINE_MODEL_PATH", str(zoo))
    monkeypatch.setenv("ADVENGINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ADVENGINE_CONFIG", str(tmp_path / "config"))
    return zoo


def toy_set(n: int = 12, side: int = GUIDE_SIZE, seed: int = 0) -> TrainingSet:
    """Smooth random images, and copies with a checkerboard added (+32 on every other pixel): a
    perturbation a small conv net can find and remove (a high-pass filter finds it)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 190, size=(n, 1, 1, 3))
    line = np.linspace(-30, 30, side)
    ramp = line[None, :, None, None] + line[None, None, :, None] / 2
    clean = np.clip(base + ramp, 0, 255).astype(np.uint8)
    yy, xx = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    board = (32 * ((yy + xx) % 2))[None, :, :, None]
    adv = np.clip(clean.astype(np.int16) + board, 0, 255).astype(np.uint8)
    return TrainingSet([f"img{i}" for i in range(n)], clean, adv, np.arange(n, dtype=np.int64))


def read_json(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data
