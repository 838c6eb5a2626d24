"""The Docker path against a real engine. It runs only where `docker info` succeeds: the development
machines have a Docker client but no engine (the one skip the integrity issue asks for; elsewhere the
command line is unit-tested in test_sandbox.py and the flow with a fake engine in test_runner.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from advengine.submissions import Settings, load_submission, run_attack
from advengine.submissions.sandbox import docker_status

from .conftest import WriteSub

U8 = npt.NDArray[np.uint8]
#: A small image with a POSIX shell; override where only another image is available offline.
IMAGE = os.environ.get("ADVENGINE_TEST_DOCKER_IMAGE", "busybox:1.36")

pytestmark = pytest.mark.skipif(
    docker_status() is not None, reason=f"no Docker engine here: {docker_status()}"
)

SCRIPT = """#!/bin/sh
# Copies the inputs, then reports what it can see and reach on stdout.
cp "$1"/*.png "$2"/
echo "ROOT: $(ls / | tr '\\n' ' ')"
wget -q -T 2 -O /dev/null http://1.1.1.1/ 2>/dev/null && echo "NET: open" || echo "NET: blocked"
dd if=/dev/zero of=/tmp/fill bs=1M count=400 2>/dev/null && echo "FILL: ok" || echo "FILL: failed"
"""


def test_a_submission_runs_in_its_container(
    write_sub: WriteSub, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    sub_dir = write_sub("dockered", "")
    (sub_dir / "metadata.json").write_text(
        f'{{"type": "attack", "container": "{IMAGE}", "container_gpu": "{IMAGE}", "entry_point": "run.sh"}}'
    )
    (sub_dir / "run.sh").write_text(SCRIPT)
    (sub_dir / "run.sh").chmod(0o755)
    run_settings = Settings("docker", settings.limits, 300.0, 2.0)  # the first run may pull the image
    outputs, run = run_attack(
        load_submission(sub_dir, tmp_path / "w"), clean4, 8, None, run_settings, tmp_path / "l"
    )
    assert run.sandbox == "docker"
    np.testing.assert_array_equal(np.stack([o for o in outputs if o is not None]), clean4)
    assert "--network" in run.argv
    assert IMAGE in run.argv
    out = (tmp_path / "l" / "stdout.txt").read_text()
    assert "work" not in out.split("ROOT:")[1].split("\n")[0].split()  # no host checkout or run dir
    assert "NET: blocked" in out
    assert "FILL: failed" in out  # /tmp is sized to the disk budget (256 MiB here)
