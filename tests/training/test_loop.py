"""The loop every trainer runs, on a toy step (a quadratic whose minimum is known): it descends, keeps
a snapshot per checkpoint, and a run resumed in pieces is bit-identical to one run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from advengine.errors import ConfigError
from advengine.training.checkpoint import Checkpoint, load_checkpoint
from advengine.training.loop import CHECKPOINT, SNAPSHOTS, Step, load_snapshot, run_steps
from advengine.training.settings import RunSettings

F32 = npt.NDArray[np.float32]
GOAL = np.array([1.0, -2.0, 3.0], np.float32)


def toy(params: dict[str, F32]) -> Step:
    """Loss |w − GOAL + noise|² on a noisy batch drawn from the sampler."""

    def one(rng: np.random.Generator) -> tuple[float, dict[str, F32]]:
        noise = rng.normal(0, 0.01, size=3).astype(np.float32)
        diff = params["w"] - GOAL + noise
        return float((diff**2).sum()), {"w": 2 * diff}

    return one


def settings(**over: object) -> RunSettings:
    return RunSettings.model_validate({"data": ".", "lr": 0.05, "checkpoint_every": 4, **over})


def export(tmp_path: Path) -> Callable[[dict[str, F32], int], tuple[Path, Path]]:
    """Writes the parameters it is given as model.npy, an empty manifest beside."""

    def write(params: dict[str, F32], step: int) -> tuple[Path, Path]:
        np.save(tmp_path / "model.npy", params["w"])
        (tmp_path / "model.json").write_text(f'{{"step": {step}}}')
        return tmp_path / "model.npy", tmp_path / "model.json"

    return write


def first(s: RunSettings) -> Checkpoint:
    return Checkpoint.first({"w": np.zeros(3, np.float32)}, np.random.default_rng(7), s.fingerprint())


def test_it_descends_and_keeps_a_snapshot_per_checkpoint(tmp_path: Path) -> None:
    s = settings()
    done = run_steps(s, tmp_path, 200, lambda: first(s), toy, export(tmp_path), images_before=10)
    state = load_checkpoint(tmp_path / CHECKPOINT)
    np.testing.assert_allclose(state.params["w"], GOAL, atol=0.05)
    assert state.losses[-1] < 0.01 < state.losses[0]
    snaps = sorted(p.name for p in (tmp_path / SNAPSHOTS).iterdir())
    assert (snaps[0], snaps[-1], len(snaps)) == ("step-000004.npz", "step-000200.npz", 50)
    np.testing.assert_array_equal(load_snapshot(tmp_path, 200)["w"], state.params["w"])
    np.testing.assert_array_equal(np.load(tmp_path / "model.npy"), state.params["w"])
    assert (done.steps, done.images_seen, done.checkpoint) == (200, 10 + 200 * 8, tmp_path / CHECKPOINT)
    assert (done.model, done.loss) == (tmp_path / "model.npy", state.losses[-1])


def test_a_run_resumed_in_pieces_is_the_same_run(tmp_path: Path) -> None:
    s = settings()
    run_steps(s, tmp_path / "whole", 9, lambda: first(s), toy, export(tmp_path))
    for steps, resume in ((4, False), (6, True), (9, True)):
        run_steps(s, tmp_path / "pieces", steps, lambda: first(s), toy, export(tmp_path), resume=resume)
    whole = load_checkpoint(tmp_path / "whole" / CHECKPOINT)
    pieces = load_checkpoint(tmp_path / "pieces" / CHECKPOINT)
    assert pieces.losses == whole.losses
    assert len(whole.losses) == 9
    np.testing.assert_array_equal(pieces.params["w"], whole.params["w"])
    np.testing.assert_array_equal(pieces.adam_v["w"], whole.adam_v["w"])
    assert (pieces.adam_t, pieces.rng_state) == (whole.adam_t, whole.rng_state)
    assert [x["start_step"] for x in pieces.sessions] == [0, 4, 6]


def test_no_step_to_take_builds_no_step(tmp_path: Path) -> None:
    s = settings()

    def never(params: dict[str, F32]) -> Step:
        raise AssertionError("a step was built with nothing to do")

    run_steps(s, tmp_path, 4, lambda: first(s), toy, export(tmp_path))
    assert run_steps(s, tmp_path, 4, lambda: first(s), never, export(tmp_path), resume=True).steps == 4
    with pytest.raises(ConfigError, match=r"--resume: lr is 0\.1 but the run"):
        run_steps(settings(lr=0.1), tmp_path, 8, lambda: first(s), toy, export(tmp_path), resume=True)
