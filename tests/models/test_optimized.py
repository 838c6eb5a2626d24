"""ORT's optimised models cached on disk: the first build writes the file, the next loads it with
optimisation off, and a corrupt file is rebuilt with one warning."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from advengine.models import optimized
from advengine.models.optimized import optimized_cache_dir, optimized_hits, optimized_session

CPU = ["CPUExecutionProvider"]


def _model() -> bytes:
    w = np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("Flatten", ["r"], ["logits"], axis=1),
        ],
        "net",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["n", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model.SerializeToString()


class Recorder:
    """The session factory, recording which file each session came from and its optimisation level."""

    def __init__(self) -> None:
        self.made: list[tuple[str, Any]] = []

    def __call__(self, what: str | bytes, opts: Any) -> ort.InferenceSession:
        self.made.append(("bytes" if isinstance(what, bytes) else what, opts.graph_optimization_level))
        return ort.InferenceSession(what, opts, providers=CPU)


def test_the_second_build_loads_the_optimised_file(tmp_path: Path) -> None:
    src = tmp_path / "m.onnx"
    src.write_bytes(_model())
    make = Recorder()
    x = np.random.default_rng(1).random((2, 3, 8, 8), np.float32)
    first = optimized_session(src, ort.SessionOptions, CPU, make, tmp_path)
    files = list(optimized_cache_dir(tmp_path).iterdir())
    assert [f.suffix for f in files] == [".onnx"]  # no temporary file left behind
    hits = optimized_hits()
    second = optimized_session(src, ort.SessionOptions, CPU, make, tmp_path)
    assert optimized_hits() == hits + 1
    assert make.made[0][0] == str(src)
    assert make.made[1] == (str(files[0]), ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    np.testing.assert_allclose(second.run(None, {"input": x})[0], first.run(None, {"input": x})[0], rtol=1e-6)


def test_the_key_names_content_providers_and_runtime(tmp_path: Path) -> None:
    blob = _model()
    key = optimized.optimized_key(blob, CPU)
    assert optimized.optimized_key(blob, CPU) == key
    assert optimized.optimized_key(blob + b"\0", CPU) != key
    assert optimized.optimized_key(blob, ["CUDAExecutionProvider", *CPU]) != key


def test_a_corrupt_cached_file_is_rebuilt_with_one_warning(tmp_path: Path) -> None:
    blob = _model()
    make = Recorder()
    optimized_session(blob, ort.SessionOptions, CPU, make, tmp_path)
    (cached,) = optimized_cache_dir(tmp_path).iterdir()
    cached.write_bytes(b"not an onnx model")
    with pytest.warns(RuntimeWarning, match="rebuilding") as caught:
        session = optimized_session(blob, ort.SessionOptions, CPU, make, tmp_path)
    assert len(caught) == 1
    assert session.get_outputs()[0].name == "logits"
    assert onnx.load(cached).graph.node  # rewritten, loadable again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimized_session(blob, ort.SessionOptions, CPU, make, tmp_path)


@pytest.mark.parametrize("enabled", ["1", ""])
def test_sessions_use_the_cache_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enabled: str
) -> None:
    from advengine.context import RunContext
    from advengine.graph.runner import make_session
    from advengine.models.classifier import OnnxClassifier
    from advengine.models.sessions import clear_sessions

    monkeypatch.setenv("ADVENGINE_ORT_CACHE", enabled)
    src = tmp_path / "m.onnx"
    src.write_bytes(_model())
    try:
        make_session(src, context=RunContext(providers=tuple(CPU), cache_dir=tmp_path))
        clear_sessions()
        OnnxClassifier(src, input_size=8, cache_root=tmp_path / "clf")
    finally:
        clear_sessions()
    written = [optimized_cache_dir(tmp_path), optimized_cache_dir(tmp_path / "clf")]
    assert [len(list(d.glob("*.onnx"))) if d.is_dir() else 0 for d in written] == (
        [1, 1] if enabled else [0, 0]
    )
