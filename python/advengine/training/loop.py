"""The loop every trainer runs (HGD's LGD trainer, the attack FCN's): start a run or continue it from
its checkpoint, draw each step's batch from one seeded sampler, let Adam update the parameters in
place, report progress, and every ``checkpoint_every`` steps write the checkpoint and a snapshot of
the parameters (``snapshots/step-N.npz``, for curves against images seen) atomically. A run continued
with ``resume`` is the same run: same batches, same augmentation, same updates."""

from __future__ import annotations

import io
import os
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.files import atomic_write
from advengine.training.adam import Adam
from advengine.training.checkpoint import Checkpoint, save_checkpoint, start_run
from advengine.training.settings import RunSettings

F32 = npt.NDArray[np.float32]
CHECKPOINT = "checkpoint.npz"
SNAPSHOTS = "snapshots"


@dataclass(frozen=True)
class StepReport:
    step: int
    steps: int
    loss: float
    images_per_s: float


StepProgress = Callable[[StepReport], None]
#: One step of a run: draw the batch from the sampler, run the graph; the batch's mean loss (as the
#: run reports it) and the gradients of the loss to *descend*.
Step = Callable[[np.random.Generator], tuple[float, Mapping[str, F32]]]


@dataclass
class TrainResult:
    steps: int
    loss: float | None
    seconds: float
    images_per_s: float
    checkpoint: Path
    #: The exported network and its manifest (None before the first step: nothing was trained).
    model: Path | None
    manifest: Path | None
    #: Training images seen, those of the starting weights included.
    images_seen: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "final_loss": self.loss,
            "seconds": round(self.seconds, 1),
            "images_per_s": round(self.images_per_s, 3),
            "images_seen": self.images_seen,
            "checkpoint": str(self.checkpoint),
            "model": None if self.model is None else str(self.model),
            "manifest": None if self.manifest is None else str(self.manifest),
        }


#: Writes the trained network's files from its parameters at a step: (model, manifest).
Export = Callable[[dict[str, F32], int], tuple[Path, Path]]


def run_steps(
    settings: RunSettings,
    out: Path,
    steps: int,
    first: Callable[[], Checkpoint],
    make_step: Callable[[dict[str, F32]], Step],
    export: Export,
    *,
    resume: bool = False,
    on_step: StepProgress | None = None,
    images_before: int = 0,
) -> TrainResult:
    """Train (or continue) the run in ``out`` up to ``steps`` steps, then ``export`` the last state
    (when a step was ever taken). ``first()`` is step 0 of a new run; ``make_step(params)`` builds
    the step over the parameters Adam updates in place (only when there is a step to take);
    ``images_before``: the images the starting weights had seen."""
    path = out / CHECKPOINT
    state = start_run(settings.fingerprint(), path, resume) or first()
    adam = Adam(state.params, settings.lr)
    adam.load(state.adam_m, state.adam_v, state.adam_t)
    rng = np.random.default_rng()
    rng.bit_generator.state = state.rng_state
    state.sessions.append(
        {
            "start_step": state.step,
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
            "load": os.getloadavg(),
        }
    )
    if state.step < steps:
        step = make_step(adam.params)
        t0, s0, base = time.perf_counter(), state.step, state.seconds
        while state.step < steps:
            loss, grads = step(rng)
            adam.step(grads)
            state.step += 1
            state.losses.append(loss)
            elapsed = time.perf_counter() - t0
            if on_step is not None:
                rate = (state.step - s0) * settings.batch_size / max(elapsed, 1e-9)
                on_step(StepReport(state.step, steps, loss, rate))
            if state.step % settings.checkpoint_every == 0 or state.step == steps:
                state.seconds = base + elapsed
                _save(out, state, adam, rng)
    model, manifest = export(adam.params, state.step) if state.step > 0 else (None, None)
    rate = state.step * settings.batch_size / state.seconds if state.seconds > 0 else 0.0
    last = state.losses[-1] if state.losses else None
    seen = images_before + state.step * settings.batch_size
    return TrainResult(state.step, last, state.seconds, rate, path, model, manifest, seen)


def _save(out: Path, state: Checkpoint, adam: Adam, rng: np.random.Generator) -> None:
    state.params, state.adam_m, state.adam_v, state.adam_t = adam.params, adam.m, adam.v, adam.t
    state.rng_state = dict(rng.bit_generator.state)
    state.sessions[-1]["end_step"] = state.step
    save_checkpoint(out / CHECKPOINT, state)
    buf = io.BytesIO()
    np.savez(buf, **adam.params)  # type: ignore[arg-type]
    atomic_write(out / SNAPSHOTS / f"step-{state.step:06d}.npz", buf.getvalue())


def load_snapshot(out: Path, step: int) -> dict[str, F32]:
    """The parameters a run kept at ``step`` (``snapshots/step-N.npz``)."""
    with np.load(out / SNAPSHOTS / f"step-{step:06d}.npz") as z:
        return {k: np.asarray(z[k], np.float32) for k in z.files}


__all__ = [
    "CHECKPOINT",
    "SNAPSHOTS",
    "Export",
    "Step",
    "StepProgress",
    "StepReport",
    "TrainResult",
    "load_snapshot",
    "run_steps",
]
