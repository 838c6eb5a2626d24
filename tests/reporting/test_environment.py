"""The report's versions-and-hardware block."""

from __future__ import annotations

import platform

from advengine.reporting.environment import environment


def test_environment_names_python_packages_and_hardware() -> None:
    env = environment()
    assert env["python"] == platform.python_version()
    assert "advengine" in env
    assert "matplotlib" in env
    assert "logical cores" in env["cpu"]
    assert env["report written"].endswith("UTC")
