"""Fixtures of the submission tests: the sample submissions, copied so a test may add files."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from advengine.data import load_dataset, sample_dataset_dir
from advengine.submissions import Limits, RunResult, Settings, load_submission, run_attack

SAMPLES = Path(__file__).parent / "samples"

CopySample = Callable[..., Path]


@pytest.fixture
def copy_sample(tmp_path: Path) -> CopySample:
    """A copy of ``samples/<name>`` (modes kept) with ``extra`` files written into it."""

    def copy(name: str, **extra: str) -> Path:
        dest = tmp_path / "subs" / name
        shutil.copytree(SAMPLES / name, dest)
        for fname, text in extra.items():
            (dest / fname.replace("_", ".")).write_text(text)
        return dest

    return copy


WriteSub = Callable[..., Path]


@pytest.fixture
def write_sub(tmp_path: Path) -> WriteSub:
    """A submission written by the test: ``main.py`` (Python run by the sandbox's python3) as the
    entry point of the given type, plus ``extra`` files (name → text)."""

    def write(name: str, script: str, kind: str = "attack", **extra: str) -> Path:
        dest = tmp_path / "subs" / name
        dest.mkdir(parents=True)
        meta = {"type": kind, "container": "c", "container_gpu": "g", "entry_point": "main.py"}
        (dest / "metadata.json").write_text(json.dumps(meta))
        (dest / "main.py").write_text("#!/usr/bin/env python3\n" + script)
        (dest / "main.py").chmod(0o755)
        for fname, text in extra.items():
            (dest / fname).write_text(text)
        return dest

    return write


@pytest.fixture
def settings() -> Settings:
    """bubblewrap with small limits and a short time limit, so hostile samples end quickly."""
    limits = Limits(memory_bytes=1 << 30, nproc=16, fsize_bytes=64 << 20, disk_bytes=256 << 20)
    return Settings("bwrap", limits, 4.0, 1.0)


@pytest.fixture(scope="session")
def clean4() -> npt.NDArray[np.uint8]:
    return load_dataset(sample_dataset_dir()).read_images(0, 4)


RunSub = Callable[[Path, Settings], tuple[list[npt.NDArray[np.uint8] | None], RunResult]]


@pytest.fixture
def run_sub(tmp_path: Path, clean4: npt.NDArray[np.uint8]) -> RunSub:
    """Run the attack submission at a path on ``clean4`` with ε 8; its logs go to ``tmp_path/"l"``."""

    def run(path: Path, settings: Settings) -> tuple[list[npt.NDArray[np.uint8] | None], RunResult]:
        return run_attack(load_submission(path, tmp_path / "w"), clean4, 8, None, settings, tmp_path / "l")

    return run


def processes_with(marker: str, where: str = "cmdline") -> list[int]:
    """Processes whose command line (or environment) contains ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/{where}").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found
