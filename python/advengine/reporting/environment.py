"""Versions and hardware of the machine that writes the report (at the end of ``advengine eval``,
the machine that ran it)."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PACKAGES = ("advengine", "numpy", "onnxruntime", "onnxruntime-gpu", "pillow", "matplotlib", "jinja2")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def environment() -> dict[str, str]:
    """Label → value, in display order."""
    out = {
        "report written": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "python": platform.python_version(),
        **{p: v for p in PACKAGES if (v := _version(p)) is not None},
        "platform": platform.platform(),
        "cpu": f"{_cpu_model()} ({os.cpu_count()} logical cores)",
    }
    mem = _memory_gib()
    if mem is not None:
        out["memory"] = f"{mem:.1f} GiB"
    return out


__all__ = ["environment"]
