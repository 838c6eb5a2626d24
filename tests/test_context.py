"""RunContext: the run's session settings, from the environment only when a command is given none."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from advengine import env
from advengine.context import CPU, CUDA, RunContext


def test_from_env_then_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(env.PROVIDERS, CPU)
    monkeypatch.setenv(env.NUM_THREADS, "2")
    monkeypatch.setenv(env.CACHE, str(tmp_path))
    ctx = RunContext.from_env()
    assert ctx == RunContext(providers=(CPU,), threads=2, cache_dir=tmp_path)
    assert RunContext.from_env(providers=(CUDA, CPU), threads=None).providers == (CUDA, CPU)
    assert RunContext.from_env(threads=None).threads == 2  # None leaves the environment's value
    monkeypatch.delenv(env.NUM_THREADS)
    assert RunContext.from_env().threads is None
    # Worker processes receive it pickled.
    assert pickle.loads(pickle.dumps(ctx)) == ctx


def test_session_providers() -> None:
    assert RunContext().session_providers([CPU]) == [CPU]
    assert RunContext().session_providers([CUDA, CPU]) == [(CUDA, {"device_id": 0}), CPU]
    assert RunContext(providers=(CPU,)).session_providers([CUDA, CPU]) == [CPU]
    assert RunContext(providers=(CUDA,), device=1).session_providers([]) == [(CUDA, {"device_id": 1})]
