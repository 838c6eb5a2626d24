"""advengine.env is the only reader of environment variables, and nothing writes them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from advengine import env
from advengine.errors import ParameterError

PACKAGE = Path(env.__file__).parent


def test_only_env_reads_and_nothing_writes_the_environment() -> None:
    pattern = re.compile(r"os\.environ|os\.getenv|os\.putenv|os\.unsetenv|getenv\(")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "env.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
    writes = re.compile(r"os\.environ\s*\[[^\]]*\]\s*=|os\.environ\.(update|setdefault|pop)|putenv")
    assert not writes.search((PACKAGE / "env.py").read_text(encoding="utf-8"))


def test_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(env.PROVIDERS, " CUDAExecutionProvider, CPUExecutionProvider ,")
    monkeypatch.setenv(env.PLUGINS, "a.b,c")
    monkeypatch.setenv(env.NUM_THREADS, "3")
    monkeypatch.setenv(env.DEBUG, "0")
    monkeypatch.setenv(env.CACHE, str(tmp_path / "c"))
    monkeypatch.delenv(env.CONFIG, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert env.providers() == ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert env.plugins() == ("a.b", "c")
    assert env.num_threads() == 3
    assert not env.debug_enabled()
    assert env.cache_dir() == tmp_path / "c"
    assert env.config_dir() == tmp_path / "xdg" / "advengine"
    monkeypatch.delenv(env.PROVIDERS)
    monkeypatch.setenv(env.DEBUG, "1")
    assert env.providers() is None
    assert env.debug_enabled()


def test_bad_thread_count_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.NUM_THREADS, "many")
    with pytest.raises(ParameterError, match="ADVENGINE_NUM_THREADS='many'"):
        env.num_threads()
