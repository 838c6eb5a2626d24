"""Faults under the Ray executor: a node removed while pieces run (three local nodes of
``ray.cluster_utils.Cluster``), and a driver killed mid-run and resumed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster
from tests.competition.conftest import FAKES, REPO, MakeConfig
from tests.competition.test_ray_executor import comparable

from advengine.competition import InProcessExecutor, load_config, run_competition
from advengine.competition.ray_executor import RayExecutor, local_runtime_env

#: Seconds a piece sleeps: long enough for a node removal to land while every node runs one.
SLEEP = 4.0


def _records(out: Path) -> int:
    return len(list((out / "pieces" / "attack").rglob("*.json"))) if (out / "pieces").is_dir() else 0


def _starts(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A head and two worker nodes of one CPU each; node deaths are noticed within seconds."""
    fast = {
        "health_check_initial_delay_ms": 0,
        "health_check_period_ms": 500,
        "health_check_failure_threshold": 4,
    }
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False, "_system_config": fast},
    )
    for _ in range(2):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    env = local_runtime_env()
    env["env_vars"]["PYTHONPATH"] = f"{REPO}:{env['env_vars']['PYTHONPATH']}"
    ray.init(address=c.address, log_to_driver=False, runtime_env=env)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def test_a_node_removed_mid_run_changes_nothing(
    tmp_path: Path, cluster: Cluster, make_config: MakeConfig
) -> None:
    log = tmp_path / "starts.log"
    attack = {"name": "fake-slow", "label": "slow", "params": {"seconds": SLEEP, "marker": str(log)}}
    cfg = make_config(limit=6, batch_size=1, attacks=[attack], defenses=[{"name": "fake-constant"}])
    out = tmp_path / "ray"
    victim = list(cluster.worker_nodes)[-1]
    removed = threading.Event()

    def remove_when_every_node_is_busy() -> None:
        # Three pieces started and not finished: one runs on each single-CPU node, the victim too.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if _starts(log) - _records(out) >= 3:
                cluster.remove_node(victim)
                removed.set()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=remove_when_every_node_is_busy, daemon=True)
    watcher.start()
    results = run_competition(cfg, out, executor=RayExecutor(plugins=(FAKES,)))
    watcher.join(timeout=1)
    assert removed.is_set()
    assert results.attacks[0].pieces == {"ok": 6, "crashed": 0, "timeout": 0}
    assert _starts(log) > 6  # the victim's piece ran again on another node, and counted once

    quiet = {**attack, "params": {"seconds": 0.0}}
    calm = make_config(limit=6, batch_size=1, attacks=[quiet], defenses=[{"name": "fake-constant"}])
    run_competition(calm, tmp_path / "calm", executor=InProcessExecutor())
    ray_run, calm_run = comparable(out), comparable(tmp_path / "calm")
    assert ray_run["records"] == calm_run["records"]
    for key in ("attacks", "defenses", "matrices", "per_eps", "exclusions"):
        got = ray_run["results"][key]
        want = calm_run["results"][key]
        if key == "attacks":  # the params (the pause) differ, nothing else
            got, want = ([{**a, "params": {}} for a in items] for items in (got, want))
        assert got == want, key


@contextlib.contextmanager
def _ray_eval(tmp_path: Path, *flags: str, capture: bool = False) -> Iterator[subprocess.Popen[str]]:
    """``advengine eval --executor ray`` in its own process on four images, one slow attack piece
    each (1 s) into ``tmp_path/ray``; killed when the block ends."""
    (tmp_path / "run.toml").write_text(
        f'plugins = ["{FAKES}"]\nbatch_size = 1\n[dataset]\nlimit = 4\n'
        '[[attacks]]\nname = "fake-slow"\nlabel = "slow"\nparams = { seconds = 1.0 }\n'
        '[[defenses]]\nname = "fake-constant"\n'
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path]), "ADVENGINE_DEBUG": ""}
    cmd = [sys.executable, "-m", "advengine", "eval", "--config", str(tmp_path / "run.toml")]
    pipe = subprocess.PIPE if capture else subprocess.DEVNULL
    driver = subprocess.Popen(
        [*cmd, "--out", str(tmp_path / "ray"), "--executor", "ray", *flags],
        env=env,
        stdout=pipe,
        stderr=pipe,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while _records(tmp_path / "ray") == 0 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.05)
        assert 0 < _records(tmp_path / "ray") < 4, "the run must be stopped mid-run"
        yield driver
    finally:
        driver.kill()
        driver.wait()


def _resumes_as_if_never_stopped(tmp_path: Path) -> None:
    """The stopped run resumed in this process ends as a run that was never stopped."""
    assert not (tmp_path / "ray" / "results.json").exists()
    cfg = load_config(tmp_path / "run.toml")
    run_competition(cfg, tmp_path / "ray", resume=True, executor=InProcessExecutor())
    run_competition(cfg, tmp_path / "calm", executor=InProcessExecutor())
    resumed, calm = comparable(tmp_path / "ray"), comparable(tmp_path / "calm")
    assert resumed["records"] == calm["records"]
    assert resumed["results"]["matrices"] == calm["results"]["matrices"]


def test_resume_after_the_driver_is_killed(tmp_path: Path) -> None:
    with _ray_eval(tmp_path):
        pass  # killed mid-run
    _resumes_as_if_never_stopped(tmp_path)


def test_a_dead_raylet_is_one_line_and_the_run_resumes(tmp_path: Path) -> None:
    """Issue 29: the raylet killed mid-run ended the eval with exit 1, no advengine line, Ray's text on
    stdout (which corrupts --json) and a .tmp file in pieces/. Now: stdout stays empty, one error line
    names the cause, no .tmp file is left, and --resume finishes the run as an uninterrupted one."""
    import psutil

    with _ray_eval(tmp_path, "--json", capture=True) as driver:
        raylets = [p for p in psutil.Process(driver.pid).children(recursive=True) if p.name() == "raylet"]
        assert len(raylets) == 1, raylets
        raylet = raylets[0]
        raylet.kill()
        stdout, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 1, stderr[-2000:]
    assert stdout == "", stdout[-2000:]
    assert (
        stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"error: Ray's raylet on this machine (pid {raylet.pid}) died, so this eval cannot go on; "
            "the finished pieces are kept: rerun with --resume (Ray's logs: "
        )
    )
    assert "internal error" not in stderr
    assert list((tmp_path / "ray").rglob("*.tmp")) == []
    _resumes_as_if_never_stopped(tmp_path)
