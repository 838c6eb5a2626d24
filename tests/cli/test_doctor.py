"""``advengine doctor``: every check reported, fixes for what is missing, --json."""

from __future__ import annotations

import json

import pytest

from advengine.cli import doctor, main


def test_json_lists_every_check_with_fixes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert set(checks) == {
        "onnxruntime",
        "CUDA provider",
        "CUDA",
        "cuDNN",
        "bubblewrap",
        "ray",
        "threads",
        "cache dir",
    }
    assert checks["onnxruntime"]["ok"]
    assert "CPUExecutionProvider" in checks["onnxruntime"]["detail"]
    assert all(c["fix"] for c in checks.values() if not c["ok"])


def test_missing_libraries_come_with_a_fix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "CUDNN_LIBS", ("libadvengine-no-such-lib.so.0",))
    monkeypatch.setattr(doctor, "CHECKS", (doctor._library("cuDNN", doctor.CUDNN_LIBS, "install cuDNN"),))
    assert main(["doctor"]) == 0  # optional: reported, not fatal
    out = capsys.readouterr().out
    assert "NO  cuDNN          libadvengine-no-such-lib.so.0 does not load" in out
    assert "fix: install cuDNN" in out
