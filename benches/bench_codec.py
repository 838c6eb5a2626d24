"""PNG batch decode/encode of the 800 DEV images: the Rust codec against a Pillow loop, same run.

Run: ``pytest benches/bench_codec.py --benchmark-only``. Figures go in docs/benchmarks.md,
"PNG batch decode (800 DEV images)". Each side is checked against the other once, outside the timing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from advengine.data import load_dataset
from advengine.kernels import encode_png_batch, num_threads, read_png_batch

Images = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def paths(dev_dir: Path) -> list[Path]:
    p = load_dataset(dev_dir).image_paths
    assert len(p) == 800
    return p


@pytest.fixture(scope="module")
def images(paths: list[Path]) -> Images:
    return read_png_batch(paths, strict=True, size=(299, 299))


def pillow_decode(paths: list[Path]) -> Images:
    out = np.empty((len(paths), 299, 299, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            out[i] = np.asarray(im.convert("RGB"))
    return out


def pillow_encode(images: Images) -> list[bytes]:
    blobs = []
    for x in images:
        buf = io.BytesIO()
        Image.fromarray(x).save(buf, format="PNG")  # Pillow's defaults, as the organisers re-saved
        blobs.append(buf.getvalue())
    return blobs


def _run(benchmark: Any, rounds: int, fn: Any, *args: Any, **kwargs: Any) -> Any:
    benchmark.extra_info["threads"] = num_threads()
    return benchmark.pedantic(fn, args=args, kwargs=kwargs, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="decode 800 DEV PNGs")
def test_decode_rust(benchmark: Any, paths: list[Path]) -> None:
    out = _run(benchmark, 7, read_png_batch, paths, strict=True, size=(299, 299))
    np.testing.assert_array_equal(out[::100], pillow_decode(paths[::100]))


@pytest.mark.benchmark(group="decode 800 DEV PNGs")
def test_decode_pillow(benchmark: Any, paths: list[Path], images: Images) -> None:
    out = _run(benchmark, 5, pillow_decode, paths)
    np.testing.assert_array_equal(out, images)


@pytest.mark.benchmark(group="encode 800 DEV images")
def test_encode_rust(benchmark: Any, images: Images) -> None:
    blobs = _run(benchmark, 3, encode_png_batch, images)
    with Image.open(io.BytesIO(blobs[0])) as im:
        np.testing.assert_array_equal(np.asarray(im), images[0])


@pytest.mark.benchmark(group="encode 800 DEV images")
def test_encode_rust_fast(benchmark: Any, images: Images) -> None:
    blobs = _run(benchmark, 3, encode_png_batch, images, fast=True)
    with Image.open(io.BytesIO(blobs[-1])) as im:
        np.testing.assert_array_equal(np.asarray(im), images[-1])


@pytest.mark.benchmark(group="encode 800 DEV images")
def test_encode_pillow(benchmark: Any, images: Images) -> None:
    blobs = _run(benchmark, 3, pillow_encode, images)
    assert len(blobs) == len(images)
