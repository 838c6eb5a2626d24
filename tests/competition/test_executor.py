"""Spawned workers: a hanging piece is killed at the limit, a dying worker is replaced, warm reuse."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from tests.competition.conftest import FAKES, MakeConfig, oracle
from tests.competition.fakes import FakeParams

from advengine.competition import (
    Executor,
    InProcessExecutor,
    Job,
    Outcome,
    PieceId,
    ProcessExecutor,
    run_competition,
)
from advengine.competition.pieces import AttackInputs, DefenseInputs, Inputs
from advengine.errors import ConfigError
from advengine.params import Params
from advengine.types import BuiltinEntry, Entry

IMAGES = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)


def _attack(name: str) -> Entry:
    return BuiltinEntry(track="nontargeted", name=name, label=name, params=Params())


def _job(name: str, entry: Entry) -> Job:
    def load() -> Inputs:
        if entry.track == "defense":
            return DefenseInputs(IMAGES, 0)
        return AttackInputs(IMAGES, 4, None, 0)

    return Job(PieceId("defense" if entry.track == "defense" else "attack", name, 0), entry, load)


def _run(executor: ProcessExecutor, jobs: list[Job]) -> dict[str, Outcome]:
    got: dict[str, Outcome] = {}
    try:
        executor.run(jobs, lambda job, outcome: got.__setitem__(job.piece.entry, outcome))
    finally:
        executor.close()
    return got


def test_timeout_crash_and_death_are_contained() -> None:
    ex = ProcessExecutor(2, time_limit=3.0, grace=1.0, plugins=(FAKES,))
    got = _run(
        ex,
        [
            _job("hang", _attack("fake-hang")),
            _job("stubborn", _attack("fake-stubborn")),
            _job("exit", _attack("fake-exit")),
            _job("crash", _attack("fake-crash")),
            _job("ok", _attack("noop")),
            _job("after", _attack("noop")),
        ],
    )
    assert got["hang"].status == "timeout"
    assert got["hang"].seconds >= 3.0
    assert got["stubborn"].status == "timeout"  # SIGTERM ignored: killed after the grace period
    assert got["exit"].status == "crashed"
    assert "worker process died (exit 3)" in (got["exit"].error or "")
    assert got["crash"].status == "crashed"
    assert "fake attack crashed on purpose" in (got["crash"].error or "")
    assert got["ok"].status == got["after"].status == "ok"
    assert np.array_equal(got["ok"].value, IMAGES)


def test_the_limit_counts_from_the_start_of_work_not_the_warm_up() -> None:
    # Building takes 3 s, the piece itself nothing: within a 2 s limit, and its seconds are the work.
    slow = BuiltinEntry(
        track="nontargeted", name="fake-slow-build", label="slow", params=FakeParams(seconds=3.0)
    )
    got = _run(ProcessExecutor(1, time_limit=2.0, grace=1.0, plugins=(FAKES,)), [_job("slow", slow)])
    assert got["slow"].status == "ok"
    assert got["slow"].seconds < 2.0
    assert got["slow"].setup["build"] + got["slow"].setup["warmup"] >= 3.0  # reported apart
    # A build over the warm-up allowance is a timeout of its own.
    short = ProcessExecutor(1, time_limit=2.0, warmup_limit=1.0, grace=1.0, plugins=(FAKES,))
    late = _run(short, [_job("slow", slow)])["slow"]
    assert late.status == "timeout"
    assert "warm-up" in (late.error or "")


def test_in_process_executor_refuses_a_finite_limit() -> None:
    with pytest.raises(ConfigError, match="cannot be enforced in this process"):
        InProcessExecutor(time_limit=500.0)


def test_workers_stay_warm() -> None:
    # Two pieces of the same entry on one worker: the same process (the pid is the label it returns).
    entry = BuiltinEntry(track="defense", name="fake-pid", label="pid", params=Params())
    got = _run(ProcessExecutor(1, plugins=(FAKES,)), [_job("a", entry), _job("b", entry)])
    pids = {int(got[k].value[0]) for k in ("a", "b")}
    assert len(pids) == 1
    assert pids != {os.getpid()}


def check_faults_are_outcomes(
    executor: Executor, make_config: MakeConfig, sample_dir: str, out: Path
) -> None:
    """A run under ``executor`` (its time limit 3 s) with a hanging, a dying and a working attack: the
    first two are a timeout and a crash, left out of the scores, and the run goes on."""
    cfg = make_config(
        limit=2,
        batch_size=2,
        time_limit=3.0,
        attacks=[{"name": "fake-hang"}, {"name": "fake-exit"}, {"name": "noop"}],
        defenses=[oracle(sample_dir)],
    )
    results = run_competition(cfg, out, executor=executor)
    by_name = {a.name: a for a in results.attacks}
    assert {name: a.pieces for name, a in by_name.items()} == {
        "fake-hang": {"ok": 0, "crashed": 0, "timeout": 1},
        "fake-exit": {"ok": 0, "crashed": 1, "timeout": 0},
        "noop": {"ok": 1, "crashed": 0, "timeout": 0},
    }
    for failed in (by_name["fake-hang"], by_name["fake-exit"]):
        assert failed.excluded
        assert failed.images_produced == 0
    assert results.defenses[0].score == 1.0  # scored on noop alone


def test_hanging_and_dying_attacks_are_outcomes(
    make_config: MakeConfig, sample_dir: str, tmp_path: Path
) -> None:
    ex = ProcessExecutor(2, time_limit=3.0, grace=1.0, plugins=(FAKES,))
    check_faults_are_outcomes(ex, make_config, sample_dir, tmp_path / "run")


def test_worker_processes_refuse_no_limit() -> None:
    with pytest.raises(ConfigError, match="needs a finite --time-limit"):
        ProcessExecutor(1, time_limit=float("inf"))
