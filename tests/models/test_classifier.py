"""OnnxClassifier: the array contract, batching, threads and providers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advengine.errors import ModelError, ParameterError, ShapeError
from advengine.models import load_classifier
from advengine.models.classifier import OnnxClassifier

from .conftest import tiny_classifier


@pytest.fixture
def tiny(tmp_path: Path) -> OnnxClassifier:
    return OnnxClassifier(tiny_classifier(tmp_path / "t.onnx"), input_size=8, batch_size=4)


def _x(n: int, size: int = 8) -> np.ndarray:
    return np.random.default_rng(n).random((n, 3, size, size), dtype=np.float32)


def test_batching_does_not_change_results(tiny: OnnxClassifier) -> None:
    x = _x(10)
    whole = tiny.logits(x, batch_size=10)
    assert whole.shape == (10, 1000)
    assert whole.dtype == np.float32
    np.testing.assert_array_equal(tiny.logits(x), whole)  # default batch 4: 4 + 4 + 2
    np.testing.assert_array_equal(tiny.logits(x, batch_size=3), whole)
    np.testing.assert_array_equal(tiny.predict(x), whole.argmax(1) + 1)


def test_empty_batch(tiny: OnnxClassifier) -> None:
    assert tiny.logits(_x(0)).shape == (0, 1000)
    assert tiny.predict(_x(0)).shape == (0,)


@pytest.mark.parametrize(
    "x",
    [
        np.zeros((2, 3, 8, 8), np.float64),
        np.zeros((2, 8, 8, 3), np.float32),
        np.zeros((2, 3, 9, 9), np.float32),
        np.zeros((3, 8, 8), np.float32),
        np.zeros((2, 3, 8, 8), np.uint8),
    ],
)
def test_wrong_inputs_are_one_clear_error(tiny: OnnxClassifier, x: np.ndarray) -> None:
    with pytest.raises(ShapeError, match=r"takes float32 \[n, 3, 8, 8\] in \[0, 1\], got"):
        tiny.logits(x)


def test_prepare_resizes_to_the_native_size(tiny: OnnxClassifier) -> None:
    assert tiny.prepare(_x(2, 299)).shape == (2, 3, 8, 8)


def test_bad_settings(tmp_path: Path) -> None:
    path = tiny_classifier(tmp_path / "t.onnx")
    with pytest.raises(ModelError, match="provider NoSuchExecutionProvider is not available"):
        OnnxClassifier(path, input_size=8, providers=["NoSuchExecutionProvider"])
    with pytest.raises(ParameterError, match="threads must be at least 1"):
        OnnxClassifier(path, input_size=8, threads=0)
    with pytest.raises(ParameterError, match="batch_size must be at least 1"):
        OnnxClassifier(path, input_size=8, batch_size=0)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load"):
        OnnxClassifier(bad, input_size=8)


def test_threads_setting_reaches_the_session(tmp_path: Path) -> None:
    clf = OnnxClassifier(tiny_classifier(tmp_path / "t.onnx"), input_size=8, threads=1)
    assert clf._session.get_session_options().intra_op_num_threads == 1
    assert clf.providers == ["CPUExecutionProvider"]


@pytest.mark.usefixtures("zoo_env")
def test_load_classifier_of_a_bundled_model() -> None:
    clf = load_classifier("efficientnet-lite0", threads=2)
    assert clf.input_size == 224
    assert clf.name == "efficientnet-lite0"
    assert "efficientnet-lite0" in repr(clf)
    # A flat grey image is no class in particular, but the call path must work end to end.
    labels = clf.predict(np.full((2, 3, 224, 224), 0.5, np.float32))
    assert labels.shape == (2,)
    assert labels[0] == labels[1]
    assert 1 <= labels[0] <= 1000


def test_a_model_whose_buffers_cannot_be_allocated_is_one_clear_error(tmp_path: Path) -> None:
    """A contract-valid model that asks ONNX Runtime for 4 TiB at run time (once an internal error)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(tiny_classifier(tmp_path / "t.onnx")))
    g = model.graph
    g.node[-1].output[0] = "raw"
    g.initializer.extend(
        [
            numpy_helper.from_array(np.array([0], np.int64), "s0"),
            numpy_helper.from_array(np.array([1], np.int64), "s1"),
            numpy_helper.from_array(np.array([1 << 20, 1 << 20], np.int64), "big"),
        ]
    )
    g.node.extend(
        [
            # The shape depends on the input, so it cannot be folded away when the session loads.
            helper.make_node("Shape", ["input"], ["ishape"]),
            helper.make_node("Slice", ["ishape", "s0", "s1"], ["n"]),
            helper.make_node("Concat", ["n", "big"], ["shape"], axis=0),
            helper.make_node("ConstantOfShape", ["shape"], ["huge"]),
            helper.make_node("ReduceSum", ["huge"], ["total"], keepdims=0),
            helper.make_node("Add", ["raw", "total"], ["logits"]),
        ]
    )
    onnx.save(model, str(tmp_path / "huge.onnx"))
    clf = OnnxClassifier(tmp_path / "huge.onnx", input_size=8)
    with pytest.raises(ModelError, match=r"ONNX Runtime failed running model huge: .*allocate"):
        clf.logits(_x(1))
