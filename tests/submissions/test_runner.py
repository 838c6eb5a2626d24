"""The runner on the sample submissions: the contract, the sandbox, the limits, the logs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from advengine.errors import SubmissionError
from advengine.submissions import Settings, load_submission, parse_defense_csv, run_attack, run_defense
from advengine.submissions.runner import MISSING, process_tree

from .conftest import CopySample, processes_with

U8 = npt.NDArray[np.uint8]


def test_noop_attack_copies_and_logs(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    sub = load_submission(copy_sample("noop_attack"), tmp_path / "w")
    outputs, run = run_attack(sub, clean4, 8, None, settings, tmp_path / "logs")
    assert run.status == "ok"
    assert run.exit_code == 0
    assert run.sandbox == "bwrap"
    np.testing.assert_array_equal(np.stack([o for o in outputs if o is not None]), clean4)
    assert "noop: copied images with eps=8" in (tmp_path / "logs" / "stdout.txt").read_text()
    record = json.loads((tmp_path / "logs" / "run.json").read_text())
    assert record["exit_code"] == 0
    assert record["argv"][-3:] == ["/input_images", "/output_images", "8"]


def test_targeted_attack_reads_target_class_csv(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    sub = load_submission(copy_sample("targeted_attack"), tmp_path / "w")
    outputs, _ = run_attack(sub, clean4, 4, np.array([3, 4, 5, 6]), settings)
    assert all(o is not None and o.shape == (598, 598, 3) for o in outputs)  # RGBA at 2x, converted to RGB


def test_defense_output_is_parsed_leniently(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    sub = load_submission(copy_sample("defense"), tmp_path / "w")
    labels, run = run_defense(sub, clean4, settings)
    expected = [1 + int(img.mean() * 10) % 1000 for img in clean4]  # the last duplicate row wins
    assert labels.tolist() == expected
    assert run.argv[-2:] == ["/input_images", "/output_data/result.csv"]


def test_parse_defense_csv_rules() -> None:
    names = ["IMG000000.png", "IMG000001.png", "IMG000002.png", "IMG000003.png"]
    text = (
        "ImageId,Label\n"  # header: skipped (int() fails)
        "IMG000000.png, 7 \n"  # spaces allowed
        "IMG000001,3.0\n"  # not an int: skipped
        "IMG000002.jpg,12\nIMG000002.png,13\n"  # .jpg stripped; last duplicate wins
        "unknown.png,5\n"  # ignored
        "IMG000003.png,5000\n"  # out of range: always wrong
        "lonely\n"
    )
    assert parse_defense_csv(text, names).tolist() == [7, MISSING, 13, 0]


def test_a_huge_csv_field_skips_only_its_row() -> None:
    """A field over csv's 128 KiB limit (or a NUL byte) once threw the whole batch away."""
    names = ["IMG000000.png", "IMG000001.png", "IMG000002.png"]
    text = (
        "IMG000000.png,7\n"
        + "IMG000001.png,"
        + "9" * (200 << 10)
        + "\nIMG000002.png,\x005\nIMG000002.png,5\n"
    )
    assert parse_defense_csv(text, names).tolist() == [7, MISSING, 5]


def test_network_is_unreachable(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        sub = load_submission(
            copy_sample("net_attack", port_txt=str(listener.getsockname()[1])), tmp_path / "w"
        )
        with pytest.raises(SubmissionError, match="exited with code 1: ConnectionRefusedError"):
            run_attack(sub, clean4, 8, None, settings)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_writes_outside_the_output_dir_are_refused(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    canaries = [
        Path("/work") / f"advengine-canary-{uuid.uuid4().hex}",
        Path.home() / f"canary-{uuid.uuid4().hex}",
    ]
    sub = load_submission(
        copy_sample("escape_attack", targets_txt=" ".join(map(str, canaries))), tmp_path / "w"
    )
    with pytest.raises(SubmissionError, match="exited with code 3"):
        run_attack(sub, clean4, 8, None, settings, tmp_path / "logs")
    assert not any(p.exists() for p in canaries)
    assert not Path("/evil").exists()
    stderr = (tmp_path / "logs" / "stderr.txt").read_text()
    assert stderr.count("refused") == 5 + len(canaries)


def test_fork_bomb_is_bounded(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    sub = load_submission(copy_sample("forkbomb_attack"), tmp_path / "w")
    with pytest.raises(SubmissionError, match="killed after the 4 s time limit"):
        run_attack(sub, clean4, 8, None, settings, tmp_path / "logs")
    forked = (tmp_path / "logs" / "stdout.txt").read_text().count("forked")
    assert 1 <= forked < settings.limits.nproc  # with no limit it would reach 511


def test_memory_limit(copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path) -> None:
    sub = load_submission(copy_sample("memhog_attack"), tmp_path / "w")
    with pytest.raises(SubmissionError, match="MemoryError"):
        run_attack(sub, clean4, 8, None, settings)


def test_hang_is_killed_with_its_whole_tree(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    marker = f"advengine-hang-{uuid.uuid4().hex}"
    sub = load_submission(copy_sample("hang_attack", marker_txt=marker), tmp_path / "w")
    with pytest.raises(SubmissionError, match="killed after the 4 s time limit"):
        run_attack(sub, clean4, 8, None, settings, tmp_path / "logs")
    assert json.loads((tmp_path / "logs" / "run.json").read_text())["status"] == "timeout"
    assert processes_with(marker) == []


def test_partial_outputs_are_kept(settings: Settings, clean4: U8, tmp_path: Path) -> None:
    src = tmp_path / "half"
    src.mkdir()
    (src / "metadata.json").write_text(
        json.dumps({"type": "attack", "container": "c", "container_gpu": "g", "entry_point": "run.sh"})
    )
    (src / "run.sh").write_text("#!/bin/sh\ncp $1/IMG000001.png $1/IMG000003.png $2/\nexit 5\n")
    (src / "run.sh").chmod(0o755)
    outputs, run = run_attack(load_submission(src, tmp_path / "w"), clean4, 8, None, settings)
    assert run.exit_code == 5
    assert [o is not None for o in outputs] == [False, True, False, True]


def test_entry_point_must_be_executable(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    path = copy_sample("noop_attack")
    (path / "run_attack.sh").chmod(0o644)
    with pytest.raises(SubmissionError, match="not executable; run chmod"):
        run_attack(load_submission(path, tmp_path / "w"), clean4, 8, None, settings)


def test_unsafe_mode_runs_without_a_sandbox(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    sub = load_submission(copy_sample("noop_attack"), tmp_path / "w")
    outputs, run = run_attack(sub, clean4, 8, None, Settings("unsafe-none", settings.limits, 20.0, 1.0))
    assert run.sandbox == "unsafe-none"
    assert "bwrap" not in run.argv
    assert all(o is not None for o in outputs)


FAKE_DOCKER = """#!{python}
# A stand-in for the docker CLI (no engine on the test machine): `info` succeeds; `run` records its
# arguments, maps the -v mounts back to host paths and runs the entry point there.
import json, os, sys
args = sys.argv[1:]
if args[0] == "info":
    sys.exit(0)
with open({log!r}, "a") as f:
    f.write(json.dumps(args) + "\\n")
mounts, i = {{}}, 1
while i < len(args):
    if args[i] == "-v":
        host, target = args[i + 1].split(":")[:2]
        mounts[target] = host
        i += 2
    elif args[i] == "-w":
        workdir, image, rest = args[i + 1], args[i + 2], args[i + 3 :]
        break
    else:
        i += 1
def host(a):
    for target, src in mounts.items():
        if a.startswith(target):
            return src + a[len(target):]
    return a
os.chdir(host(workdir))
os.execv(rest[0], [rest[0]] + [host(a) for a in rest[1:]])
"""


def test_docker_path_with_a_fake_engine(
    copy_sample: CopySample, settings: Settings, clean4: U8, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the flow around `docker run` (command, mounts, outputs): no Docker engine exists here."""
    import sys

    from advengine.submissions import sandbox

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker.log"
    (bin_dir / "docker").write_text(FAKE_DOCKER.format(python=sys.executable, log=str(log)))
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    sandbox.docker_status.cache_clear()
    try:
        sub = load_submission(copy_sample("noop_attack"), tmp_path / "w")
        auto = Settings("auto", settings.limits, 20.0, 1.0)
        outputs, run = run_attack(sub, clean4, 12, None, auto)
    finally:
        sandbox.docker_status.cache_clear()
    assert run.sandbox == "docker"
    np.testing.assert_array_equal(np.stack([o for o in outputs if o is not None]), clean4)
    args = json.loads(log.read_text())
    assert any(a.endswith(":/input_images:ro") for a in args)
    assert any(a.endswith(":/output_images:rw") for a in args)
    assert "--network" in args
    assert args[args.index("--network") + 1] == "none"
    assert args[-5:] == [
        "gcr.io/tensorflow/tensorflow:1.1.0",
        "./run_attack.sh",
        "/input_images",
        "/output_images",
        "12",
    ]


def test_process_tree_lists_descendants_parents_first() -> None:
    proc = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.monotonic() + 10
        while len(process_tree(proc.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        tree = process_tree(proc.pid)
        assert tree[0].pid == proc.pid
        assert sorted(p.name() for p in tree[1:]) == ["sleep", "sleep"]
    finally:
        for p in reversed(process_tree(proc.pid)):
            p.kill()
        proc.wait()
    assert process_tree(proc.pid) == []
