"""Transform specs and their semantics (median 2×2 as scipy/EvadeML, bit depth as rint)."""

from __future__ import annotations

import numpy as np
import pytest

from advengine.errors import ConfigError
from advengine.kernels.transforms import TRANSFORMS, parse_transform


def test_median_2x2_takes_the_upper_middle_of_the_pixel_and_its_upper_left_neighbours() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1, 6, 7, 3), dtype=np.uint8)
    out = parse_transform("median:2")(img)
    # Reference: pad one row/column at the top/left by edge reflection, window rows {i-1, i} × cols {j-1, j}.
    padded = np.pad(img, ((0, 0), (1, 0), (1, 0), (0, 0)), mode="symmetric").astype(int)
    h, w = img.shape[1:3]
    stack = np.stack([padded[:, dy : dy + h, dx : dx + w] for dy in (0, 1) for dx in (0, 1)])
    expected = np.sort(stack, axis=0)[2]
    np.testing.assert_array_equal(out, expected.astype(np.uint8))


def test_bit_depth_levels() -> None:
    img = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)
    out = parse_transform("bit-depth:1")(img)
    assert set(np.unique(out).tolist()) == {0, 255}
    assert len(np.unique(parse_transform("bit-depth:5")(img))) == 32


@pytest.mark.parametrize("spec", ["jpeg:50", "resize:100", "median:3", "bit-depth:4"])
def test_transforms_keep_shape_and_dtype(spec: str) -> None:
    img = np.random.default_rng(1).integers(0, 256, (2, 31, 31, 3), dtype=np.uint8)
    out = parse_transform(spec)(img)
    assert out.shape == img.shape
    assert out.dtype == np.uint8


def test_defaults() -> None:
    assert str(parse_transform("median")) == "median:2"
    assert str(parse_transform("jpeg")) == "jpeg:75"
    assert set(TRANSFORMS) == {"median", "bit-depth", "jpeg", "resize"}


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("blur:3", "unknown transform 'blur'"),
        ("jpeg:x", "integer"),
        ("jpeg:101", "1..100"),
        ("median:0", "1..15"),
    ],
)
def test_bad_specs_are_one_config_error(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_transform(spec)
