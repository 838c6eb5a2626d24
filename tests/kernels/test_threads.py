"""ADVENGINE_NUM_THREADS sizes the kernels' thread pool (read in a fresh process each time)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = (
    "import numpy as np; from advengine import kernels; "
    "x = np.zeros((4, 8, 8, 3), np.uint8); kernels.median_filter(x, 3); print(kernels.num_threads())"
)


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), (" 2 ", 2)])
def test_env_var_sets_the_pool_size(value: str, expected: int) -> None:
    assert threads_with(value) == expected


def threads_with(value: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "ADVENGINE_NUM_THREADS"}
    if value is not None:
        env["ADVENGINE_NUM_THREADS"] = value
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.parametrize("value", ["0", "many", ""])
def test_invalid_values_fall_back_to_the_default(value: str) -> None:
    # The default is Rust's available_parallelism (CPU count, affinity and cgroup quota included).
    assert threads_with(value) == threads_with(None) >= 1
