"""The guide at the crop's side: a globally pooled classifier runs at any side; one that is not is one
clear error naming --crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advengine.errors import ConfigError
from advengine.models import load_classifier
from advengine.training.guide import GuideLogits, guide_model

from ..models.conftest import tiny_classifier, user_manifest, write_json
from .conftest import GUIDE


@pytest.fixture
def pooled(guide_env: Path) -> str:
    path = tiny_classifier(guide_env / "pooled.onnx", 16)
    write_json(guide_env / "pooled.json", user_manifest(path, name="tiny-pooled", size=16))
    return "tiny-pooled"


def test_a_pooled_guide_runs_on_crops_of_another_side(pooled: str) -> None:
    dims = guide_model(pooled, 10, None).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 10, 10]
    x = np.random.default_rng(0).random((2, 3, 10, 10), dtype=np.float32)
    logits = GuideLogits(pooled, 10, None)(x)
    assert logits.shape == (2, 1000)
    # Global average pooling: the logits of a constant image do not depend on its side.
    flat = np.full((1, 3, 10, 10), 0.3, np.float32)
    big = np.full((1, 3, 16, 16), 0.3, np.float32)
    np.testing.assert_allclose(
        GuideLogits(pooled, 10, None)(flat), load_classifier(pooled).logits(big), atol=1e-5
    )


def test_at_its_own_side_the_guide_is_its_own_graph(pooled: str) -> None:
    dims = guide_model(pooled, 16, None).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[2:]] == [16, 16]


@pytest.mark.usefixtures("guide_env")
def test_a_guide_that_is_not_fully_convolutional_is_one_error() -> None:
    with pytest.raises(ConfigError, match=r"does not run on 10-pixel crops .*give --crop its own input side"):
        GuideLogits(GUIDE, 10, None)(np.zeros((1, 3, 10, 10), np.float32))
