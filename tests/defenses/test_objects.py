"""``advengine.defend``: a defense on library users' arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import advengine
from advengine.models import Model

from ..models.conftest import tiny_classifier


def test_defend_takes_any_array_and_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVENGINE_CONFIG", str(tmp_path / "config"))
    tiny = Model.from_onnx(tiny_classifier(tmp_path / "tiny.onnx", size=8), normalization="none")
    x = np.random.default_rng(0).random((3, 3, 224, 224), dtype=np.float32)
    labels = advengine.defend("median", tiny, x)
    assert labels.shape == (3,)
    assert labels.dtype == np.int64
    assert ((labels >= 1) & (labels <= 1000)).all()
    got = advengine.defend("median", tiny, torch.from_numpy(x))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(), labels)
