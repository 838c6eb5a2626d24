"""Attack outputs are repaired like EVALINFRA did (RGB, bicubic resize) and always projected."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from advengine.competition.projection import project_outputs
from advengine.errors import ImageError


@pytest.fixture
def clean() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (3, 12, 10, 3), dtype=np.uint8)


def _within(adv: np.ndarray, clean: np.ndarray, eps: int) -> bool:
    return int(np.abs(adv.astype(int) - clean.astype(int)).max()) <= eps


@pytest.mark.parametrize("eps", [0, 4, 16])
def test_right_shape_is_clipped(clean: np.ndarray, eps: int) -> None:
    wild = 255 - clean
    adv = project_outputs(wild, clean, eps)
    assert adv.shape == clean.shape
    assert _within(adv, clean, eps)
    assert wild.tolist() == (255 - clean).tolist()  # the attack's array is not modified


def test_wrong_size_and_mode_are_repaired(clean: np.ndarray) -> None:
    outputs = [
        Image.new("RGBA", (20, 24), (255, 0, 0, 128)),  # RGBA, twice the size
        np.zeros((12, 10), dtype=np.uint8),  # gray
        np.full((5, 5, 3), 255, dtype=np.uint8),  # too small
    ]
    adv = project_outputs(outputs, clean, 8)
    assert adv.shape == clean.shape
    assert _within(adv, clean, 8)
    # Where the projection is not binding, the repaired pixels come through (the gray image is 0).
    assert (adv[1] == np.maximum(clean[1].astype(int) - 8, 0)).all()


def test_not_an_image_fails(clean: np.ndarray) -> None:
    with pytest.raises(ImageError, match="uint8 images"):
        project_outputs(clean.astype(np.float32), clean, 4)
    with pytest.raises(ImageError, match="returned NoneType, not a batch of images"):
        project_outputs(None, clean, 4)
    with pytest.raises(ImageError, match="returned 2 images for a batch of 3"):
        project_outputs(list(clean[:2]), clean, 4)
