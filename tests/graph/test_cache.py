"""Compiled graphs are cached by content hash under $ADVENGINE_CACHE, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from advengine.graph import compile_gradient_graph
from advengine.graph.cache import cached, graph_cache_dir

from .conftest import tiny_mobilenet


def test_cache_builds_once_and_keys_on_content_and_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADVENGINE_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "net.onnx"
    onnx.save(tiny_mobilenet(np.random.default_rng(0)), str(src))
    builds = []

    def build(loss: str) -> onnx.ModelProto:
        builds.append(loss)
        return compile_gradient_graph(src, loss=loss, batch=1, size=16)

    p1, hit1 = cached([src], {"loss": "ce"}, lambda: build("ce"))
    p2, hit2 = cached([src], {"loss": "ce"}, lambda: build("ce"))
    p3, hit3 = cached([src], {"loss": "cw"}, lambda: build("cw"))
    assert (hit1, hit2, hit3) == (False, True, False)
    assert p1 == p2 != p3
    assert builds == ["ce", "cw"]
    assert p1.parent == graph_cache_dir() == tmp_path / "cache" / "graphs"
    onnx.checker.check_model(str(p1))
    onnx.save(tiny_mobilenet(np.random.default_rng(1)), str(src))  # new weights → new key
    p4, hit4 = cached([src], {"loss": "ce"}, lambda: build("ce"))
    assert not hit4
    assert p4 != p1


def test_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVENGINE_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "m.onnx"
    onnx.save(tiny_mobilenet(np.random.default_rng(0)), str(src))

    def boom() -> onnx.ModelProto:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        cached([src], {"loss": "ce"}, boom)
    assert not graph_cache_dir().exists() or list(graph_cache_dir().iterdir()) == []
