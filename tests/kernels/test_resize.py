"""Resize: equal to Pillow's Image.resize (uint8, at most 1 level off; in practice bit-exact)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from advengine import kernels
from advengine.errors import ParameterError, ShapeError

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
sides = st.integers(1, 40)


def pillow(x: np.ndarray, h: int, w: int, method: str) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(im).resize((w, h), FILTERS[method])) for im in x])


@settings(max_examples=60)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 2), sides, sides, st.just(3))),
    sides,
    sides,
    st.sampled_from(sorted(FILTERS)),
)
def test_within_one_level_of_pillow(x: np.ndarray, h: int, w: int, method: str) -> None:
    out = kernels.resize(x, (h, w), method)  # type: ignore[arg-type]
    assert out.shape == (x.shape[0], h, w, 3)
    assert out.dtype == np.uint8
    diff = np.abs(out.astype(np.int16) - pillow(x, h, w, method))
    assert int(diff.max()) <= 1


@pytest.mark.parametrize("method", sorted(FILTERS))
def test_competition_sizes_match_pillow_exactly(method: str) -> None:
    # 299 -> 224 (model input) and 320 -> 299 (a wrong-sized attack output), on noise, where pass
    # order and rounding matter most.
    rng = np.random.default_rng(0)
    for src, dst in [((299, 299), (224, 224)), ((320, 310), (299, 299)), ((100, 60), (40, 150))]:
        x = rng.integers(0, 256, (2, *src, 3), dtype=np.uint8)
        np.testing.assert_array_equal(kernels.resize(x, dst, method), pillow(x, *dst, method))  # type: ignore[arg-type]


@settings(max_examples=30)
@given(
    hnp.arrays(
        np.float32, st.tuples(st.just(1), sides, sides, st.just(3)), elements=st.floats(0, 1, width=32)
    ),
    sides,
    sides,
    st.sampled_from(sorted(FILTERS)),
)
def test_float_variant_matches_pillow_mode_f(x: np.ndarray, h: int, w: int, method: str) -> None:
    out = kernels.resize(x, (h, w), method)  # type: ignore[arg-type]
    assert out.dtype == np.float32
    ref = np.stack(
        [
            np.asarray(Image.fromarray(x[0, :, :, c], mode="F").resize((w, h), FILTERS[method]))
            for c in range(3)
        ],
        axis=-1,
    )
    np.testing.assert_allclose(out[0], ref, atol=1e-5)


def test_square_size_shorthand() -> None:
    x = np.zeros((1, 5, 7, 3), np.uint8)
    assert kernels.resize(x, 3).shape == (1, 3, 3, 3)


@pytest.mark.parametrize(
    ("size", "method"), [(0, "bilinear"), ((4, -1), "bilinear"), (4, "cubic"), (2.0, "nearest")]
)
def test_bad_parameters(size: object, method: str) -> None:
    with pytest.raises(ParameterError):
        kernels.resize(np.zeros((1, 4, 4, 3), np.uint8), size, method)  # type: ignore[arg-type]


def test_bad_array() -> None:
    with pytest.raises(ShapeError):
        kernels.resize(np.zeros((1, 4, 4, 3), np.int16), 3)
