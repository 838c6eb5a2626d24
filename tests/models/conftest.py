"""Fixtures of the model-zoo tests: a torch-free writer of torch checkpoints, isolated zoo dirs, and a
session-wide cache of built models (building one takes ~0.3 s, so tests share them)."""

from __future__ import annotations

import collections
import io
import json
import pickle
import struct
import sys
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# ------------------------------------------------------------------------------------------------
# Writing checkpoints the way torch.save does, without torch: fake `torch` / `torch._utils` modules
# make the stdlib pickler emit the very globals torch writes (`torch._utils._rebuild_tensor_v2`,
# `torch FloatStorage`, ...), and persistent ids name the storages.

_DTYPE_STORAGE = {
    np.dtype("float32"): "FloatStorage",
    np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage",
    np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage",
    np.dtype("uint8"): "ByteStorage",
}


class _Storage:
    def __init__(self, key: str, data: np.ndarray) -> None:
        self.key = key
        self.data = np.ascontiguousarray(data).reshape(-1)


class _Tensor:
    """Pickles like a torch tensor: `_rebuild_tensor_v2(storage, offset, size, stride, ...)`."""

    def __init__(
        self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]
    ) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self) -> Any:
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return (
            rebuild,
            (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()),
        )


def _fake_torch() -> tuple[types.ModuleType, types.ModuleType]:
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:  # never called: only its name is pickled
        raise AssertionError("writer-side stand-in")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    for name in set(_DTYPE_STORAGE.values()):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils  # type: ignore[attr-defined]
    return torch, utils


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _Storage):
            storage_type = getattr(sys.modules["torch"], _DTYPE_STORAGE[obj.data.dtype])
            return ("storage", storage_type, obj.key, "cpu", obj.data.size)
        return None


def _tensors(
    state: dict[str, np.ndarray], transpose: frozenset[str]
) -> tuple[dict[str, _Tensor], list[_Storage]]:
    """One storage per tensor; names in ``transpose`` are stored column-major (non-trivial strides)."""
    out: dict[str, _Tensor] = collections.OrderedDict()
    storages: list[_Storage] = []
    for i, (name, arr) in enumerate(state.items()):
        if name in transpose:
            assert arr.ndim == 2
            st = _Storage(str(1000 + i), arr.T.copy())
            out[name] = _Tensor(st, 0, arr.shape, (1, arr.shape[0]))
        else:
            # A leading pad element exercises the storage offset.
            st = _Storage(str(1000 + i), np.concatenate([np.zeros(1, arr.dtype), arr.reshape(-1)]))
            strides = tuple(int(np.prod(arr.shape[k + 1 :])) for k in range(arr.ndim))
            out[name] = _Tensor(st, 1, arr.shape, strides)
        storages.append(st)
    return out, storages


def _dump(obj: Any, protocol: int = 2) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


@pytest.fixture
def torch_writer(monkeypatch: pytest.MonkeyPatch) -> TorchWriter:
    torch, utils = _fake_torch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return TorchWriter()


class TorchWriter:
    """``legacy(path, state)`` and ``zip(path, state)`` write checkpoints in torch's two formats."""

    def legacy(
        self, path: Path, state: dict[str, np.ndarray], transpose: frozenset[str] = frozenset()
    ) -> Path:
        tensors, storages = _tensors(state, transpose)
        parts = [
            pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2),
            pickle.dumps(1001, protocol=2),
            pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, protocol=2),
            _dump(tensors),
            pickle.dumps([s.key for s in storages], protocol=2),
        ]
        for s in storages:
            parts.append(
                struct.pack("<q", s.data.size) + s.data.astype(s.data.dtype.newbyteorder("<")).tobytes()
            )
        path.write_bytes(b"".join(parts))
        return path

    def zip(self, path: Path, state: dict[str, np.ndarray], transpose: frozenset[str] = frozenset()) -> Path:
        tensors, storages = _tensors(state, transpose)
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("archive/data.pkl", _dump(tensors))
            zf.writestr("archive/byteorder", "little")
            zf.writestr("archive/version", "3\n")
            for s in storages:
                zf.writestr(f"archive/data/{s.key}", s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())
        return path


# ------------------------------------------------------------------------------------------------
# Isolated zoo locations.

REPO_MANIFESTS = Path(__file__).resolve().parents[2] / "models" / "onnx"


@pytest.fixture(scope="session")
def built_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir shared by the session, so each bundled model is built at most once."""
    return tmp_path_factory.mktemp("advengine-cache")


@pytest.fixture
def zoo_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, built_cache: Path) -> Path:
    """Shared build cache, an empty private config dir and no extra model path; returns the config dir."""
    config = tmp_path / "config"
    monkeypatch.setenv("ADVENGINE_CACHE", str(built_cache))
    monkeypatch.setenv("ADVENGINE_CONFIG", str(config))
    monkeypatch.delenv("ADVENGINE_MODEL_PATH", raising=False)
    return config


@pytest.fixture
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A fresh, empty cache dir (for tests that rebuild or damage files)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ADVENGINE_CACHE", str(cache))
    monkeypatch.setenv("ADVENGINE_CONFIG", str(tmp_path / "config"))
    monkeypatch.delenv("ADVENGINE_MODEL_PATH", raising=False)
    return cache


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def tiny_classifier(path: Path, size: int = 8, *, output: str = "logits", classes: int = 1000) -> Path:
    """A small valid (by default) ONNX classifier: mean colour -> Gemm -> ``classes`` logits."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w", "b"], [output], transB=1),
    ]
    inits = [
        numpy_helper.from_array(rng.standard_normal((classes, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(classes).astype(np.float32), "b"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", classes])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def user_manifest(onnx_path: Path, name: str = "tiny", size: int = 8, **extra: Any) -> dict[str, Any]:
    import hashlib

    return {
        "schema": 1,
        "name": name,
        "source": {
            "kind": "onnx-file",
            "path": onnx_path.name,
            "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        },
        "input_size": size,
        "labels": {"convention": "tf-slim-index-plus-1", "classes": 1000},
        **extra,
    }
