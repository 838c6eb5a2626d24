"""Sessions are shared per (model file, providers with their device, threads), and a rebuilt file
gets a new one."""

from __future__ import annotations

import os
from pathlib import Path

from advengine.context import RunContext
from advengine.models import load_classifier
from advengine.models.sessions import clear_sessions, shared_session


def test_one_session_per_file_device_and_threads(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    made: list[int] = []

    def make() -> object:
        made.append(1)
        return object()

    cuda0 = [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]
    cuda1 = [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    try:
        first = shared_session(model, cuda0, None, make)
        assert shared_session(model, cuda0, None, make) is first
        assert shared_session(model, cuda1, None, make) is not first  # another device
        assert shared_session(model, cuda0, 2, make) is not first  # other threads
        os.utime(model, ns=(1, 1))  # the file was rebuilt
        assert shared_session(model, cuda0, None, make) is not first
        assert len(made) == 4
    finally:
        clear_sessions()


def test_classifiers_of_one_model_share_their_session() -> None:
    ctx = RunContext(providers=("CPUExecutionProvider",))
    try:
        a = load_classifier("efficientnet-lite0", context=ctx)
        b = load_classifier("efficientnet-lite0", context=ctx)
        assert a._session is b._session
        assert load_classifier("efficientnet-lite0", threads=1, context=ctx)._session is not a._session
    finally:
        clear_sessions()
