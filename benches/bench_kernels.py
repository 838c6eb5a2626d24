"""The Rust kernels against their Python peers on the competition batch (100 × 299 × 299 × 3),
each pair in the same run. Outputs are checked against the peer once, outside the timing.

Run: ``pytest benches/bench_kernels.py --benchmark-only --benchmark-columns=min,median,rounds``.
Figures go in docs/benchmarks.md, "Rust kernels". The 800-image PNG decode pair is in bench_codec.py.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from scipy import ndimage

from advengine import kernels
from advengine.data import load_dataset

Images = npt.NDArray[np.uint8]
N, SIDE = 100, 299
FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


@pytest.fixture(scope="module")
def clean(dev_dir: Path) -> Images:
    """The first 100 DEV images: real photographs, so the median and JPEG see natural statistics."""
    return load_dataset(dev_dir).head(N).read_images()


@pytest.fixture(scope="module")
def adv(clean: Images) -> Images:
    noise = np.random.default_rng(0).integers(-40, 41, clean.shape)
    return np.clip(clean.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def _run(benchmark: Any, rounds: int, fn: Any, *args: Any) -> Any:
    benchmark.extra_info["threads"] = kernels.num_threads()
    return benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1, warmup_rounds=1)


def numpy_clip(adv: Images, clean: Images, eps: int) -> Images:
    """The NIPS 2017 harness's projection: int32 arithmetic, back to uint8."""
    c = clean.astype(np.int32)
    return np.clip(adv.astype(np.int32), np.maximum(c - eps, 0), np.minimum(c + eps, 255)).astype(np.uint8)


@pytest.mark.benchmark(group="clip_linf eps=16")
def test_clip_rust(benchmark: Any, adv: Images, clean: Images) -> None:
    out = _run(benchmark, 30, kernels.clip_linf, adv, clean, 16)
    np.testing.assert_array_equal(out, numpy_clip(adv, clean, 16))


@pytest.mark.benchmark(group="clip_linf eps=16")
def test_clip_rust_inplace(benchmark: Any, adv: Images, clean: Images) -> None:
    work = adv.copy()
    _run(benchmark, 30, lambda: kernels.clip_linf(work, clean, 16, out=work))


@pytest.mark.benchmark(group="clip_linf eps=16")
def test_clip_numpy(benchmark: Any, adv: Images, clean: Images) -> None:
    _run(benchmark, 10, numpy_clip, adv, clean, 16)


@pytest.mark.benchmark(group="clip_linf eps=16")
def test_copy_bandwidth_floor(benchmark: Any, adv: Images) -> None:
    """A numpy copy of one batch (reads 26.8 MB, writes 26.8 MB): the measured memory bandwidth."""
    _run(benchmark, 30, np.copy, adv)


def scipy_median(images: Images, k: int) -> Images:
    return ndimage.median_filter(images, size=(1, k, k, 1), mode="reflect")


#: Both window sizes, each its own benchmark group (the Rust kernel beside scipy in each).
MEDIAN_SIZES = [
    pytest.param(k, marks=pytest.mark.benchmark(group=f"median {k}x{k}"), id=f"{k}x{k}") for k in (3, 2)
]


@pytest.mark.parametrize("k", MEDIAN_SIZES)
def test_median_rust(benchmark: Any, clean: Images, k: int) -> None:
    out = _run(benchmark, 10, kernels.median_filter, clean, k)
    np.testing.assert_array_equal(out[:4], scipy_median(clean[:4], k))


@pytest.mark.parametrize("k", MEDIAN_SIZES)
def test_median_scipy(benchmark: Any, clean: Images, k: int) -> None:
    _run(benchmark, 2, scipy_median, clean, k)


def pillow_resize(images: Images, size: int, method: str) -> Images:
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, x in enumerate(images):
        out[i] = np.asarray(Image.fromarray(x).resize((size, size), FILTERS[method]))
    return out


@pytest.mark.parametrize("method", sorted(FILTERS))
@pytest.mark.benchmark(group="resize 299->224")
def test_resize_rust(benchmark: Any, clean: Images, method: str) -> None:
    out = _run(benchmark, 10, kernels.resize, clean, 224, method)
    np.testing.assert_array_equal(out[:4], pillow_resize(clean[:4], 224, method))


@pytest.mark.parametrize("method", sorted(FILTERS))
@pytest.mark.benchmark(group="resize 299->224")
def test_resize_pillow(benchmark: Any, clean: Images, method: str) -> None:
    _run(benchmark, 5, pillow_resize, clean, 224, method)


def numpy_resize_pad(images: Images, params: npt.NDArray[np.int64]) -> Images:
    out = np.zeros((len(images), 331, 331, 3), np.uint8)
    for i, (rnd, top, left) in enumerate(params):
        idx = np.minimum(np.floor(np.arange(rnd, dtype=np.float32) * (np.float32(SIDE) / rnd)), SIDE - 1)
        idx = idx.astype(np.intp)
        out[i, top : top + rnd, left : left + rnd] = images[i][idx][:, idx]
    return out


@pytest.mark.benchmark(group="random resize + pad 299->[310,330]->331")
def test_resize_pad_rust(benchmark: Any, clean: Images) -> None:
    out, params = _run(benchmark, 20, kernels.random_resize_pad, clean)
    np.testing.assert_array_equal(out, numpy_resize_pad(clean, params))


@pytest.mark.benchmark(group="random resize + pad 299->[310,330]->331")
def test_resize_pad_numpy(benchmark: Any, clean: Images) -> None:
    _, params = kernels.random_resize_pad(clean)
    _run(benchmark, 10, numpy_resize_pad, clean, params)


@pytest.mark.benchmark(group="bit depth 5")
def test_bit_depth_rust(benchmark: Any, clean: Images) -> None:
    _run(benchmark, 30, kernels.bit_depth, clean, 5)


@pytest.mark.benchmark(group="bit depth 5")
def test_bit_depth_numpy(benchmark: Any, clean: Images) -> None:
    _run(benchmark, 5, lambda: (np.rint(np.rint(clean * (31 / 255)) * (255 / 31))).astype(np.uint8))


def pillow_jpeg(images: Images, quality: int) -> Images:
    out = np.empty_like(images)
    for i, x in enumerate(images):
        buf = io.BytesIO()
        Image.fromarray(x).save(buf, "JPEG", quality=quality)
        out[i] = np.asarray(Image.open(buf).convert("RGB"))
    return out


@pytest.mark.benchmark(group="JPEG round trip q=75")
def test_jpeg_rust(benchmark: Any, clean: Images) -> None:
    _run(benchmark, 5, kernels.jpeg_roundtrip, clean, 75)


@pytest.mark.benchmark(group="JPEG round trip q=75")
def test_jpeg_pillow(benchmark: Any, clean: Images) -> None:
    _run(benchmark, 5, pillow_jpeg, clean, 75)
