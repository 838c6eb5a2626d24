"""HGD training with the LGD loss (Liao et al. 2018) on ONNX Runtime, no deep-learning framework.

One step: a batch of (input, clean) pairs from the training set, both resized to the guide's side and
augmented alike; the guide's logits on the clean images (a forward-only session) are the target; the
compiled graph DUNET → guide → ``l1`` head gives Σ_k |z_k(x − D(x)) − t_k| per sample and its gradient
with respect to the DUNET's parameters only (the guide's weights are constants); Adam updates the
parameters on the host, in place.

The parameters, the batch and the gradient outputs are numpy arrays bound once to the session through
IO binding (OrtValues over the same memory), so a step copies nothing but the new batch into its
buffer. Every ``checkpoint_every`` steps the state is written (``checkpoint.npz``); ``resume``
continues from it exactly: same batches, same augmentation, same updates.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from advengine.context import RunContext
from advengine.data.images import to_model_input
from advengine.errors import ConfigError
from advengine.graph.compiler import ForwardSpec, compile_spec
from advengine.graph.params import param_grad_name
from advengine.models import ensure_onnx, get_manifest, load_classifier, resize_bilinear
from advengine.models.denoised import DENOISER_PREFIX, compose_denoised
from advengine.models.dunet import DunetConfig, build_dunet, init_params
from advengine.seeds import derive_seed
from advengine.training.adam import Adam
from advengine.training.augment import draw_augment
from advengine.training.binding import BoundGraph
from advengine.training.checkpoint import Checkpoint, save_checkpoint, start_run
from advengine.training.export import export_denoiser
from advengine.training.settings import TrainSettings
from advengine.training.trainset import DataProgress, TrainingSet, prepare_training_set

F32 = npt.NDArray[np.float32]
CHECKPOINT = "checkpoint.npz"
CLASSES = 1000


@dataclass(frozen=True)
class StepReport:
    step: int
    steps: int
    loss: float
    images_per_s: float


StepProgress = Callable[[StepReport], None]


@dataclass
class TrainResult:
    steps: int
    loss: float | None
    seconds: float
    images_per_s: float
    checkpoint: Path
    #: The exported denoiser and its manifest (None before the first step: nothing was trained).
    denoiser: Path | None
    manifest: Path | None

    def summary(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "final_loss": self.loss,
            "seconds": round(self.seconds, 1),
            "images_per_s": round(self.images_per_s, 3),
            "checkpoint": str(self.checkpoint),
            "denoiser": None if self.denoiser is None else str(self.denoiser),
            "manifest": None if self.manifest is None else str(self.manifest),
        }


def training_graph(
    settings: TrainSettings, config: DunetConfig, context: RunContext | None
) -> onnx.ModelProto:
    """DUNET → guide → ``l1`` head at batch ``settings.batch``, with the gradients of the DUNET's
    parameters (graph inputs ``denoiser/<name>``, outputs ``grad/denoiser/<name>``)."""
    guide = onnx.load(str(ensure_onnx(settings.target, cache_root=context.cache_dir if context else None)))
    dunet = build_dunet(config, init_params(config, 0))  # the values do not matter: they become inputs
    composed = compose_denoised(dunet, guide, input_size=config.size, name="hgd-train")
    names = [DENOISER_PREFIX + n for n in config.shapes()]
    return compile_spec(
        ForwardSpec(composed, "logits"),
        "hgd-train",
        loss="l1",
        batch=settings.batch,
        wrt_params=names,
        input_grad=False,
    )


class LgdStep:
    """The compiled training graph with its inputs and outputs bound once to numpy buffers."""

    def __init__(
        self,
        graph: onnx.ModelProto,
        params: dict[str, F32],
        batch: int,
        size: int,
        context: RunContext | None,
    ) -> None:
        self.grads = {k: np.zeros_like(p) for k, p in params.items()}
        inputs: dict[str, F32] = {
            "input": np.zeros((batch, 3, size, size), np.float32),
            "target": np.zeros((batch, CLASSES), np.float32),
        }
        inputs.update({DENOISER_PREFIX + k: p for k, p in params.items()})
        outputs = {"loss": np.zeros((batch,), np.float32)}
        outputs.update({param_grad_name(DENOISER_PREFIX + k): g for k, g in self.grads.items()})
        self.bound = BoundGraph(graph, inputs, outputs, context)
        self.loss = outputs["loss"]

    def run(self, x: F32, target: F32) -> F32:
        """Loss per sample of the batch; the gradients land in :attr:`grads`."""
        self.bound.run({"input": x, "target": target})
        return self.loss


def _new_state(settings: TrainSettings, config: DunetConfig) -> Checkpoint:
    rng = np.random.default_rng(derive_seed(settings.seed, "hgd", "train"))
    params = init_params(config, derive_seed(settings.seed, "hgd", "init"))
    return Checkpoint.first(params, rng, settings.fingerprint())


def _batch(
    data: TrainingSet, rng: np.random.Generator, settings: TrainSettings, size: int
) -> tuple[F32, F32]:
    """A batch of (input, clean) pairs at the guide's side, augmented alike."""
    picks = rng.choice(len(data), size=settings.batch, replace=False)
    pairs = [data.pair(int(k)) for k in picks]
    u8 = np.stack([p[0] for p in pairs] + [p[1] for p in pairs])
    x = resize_bilinear(to_model_input(u8), size)
    aug = draw_augment(rng, settings.batch, settings.shift)
    return aug(x[: settings.batch]), aug(x[settings.batch :])


def train_hgd(
    settings: TrainSettings,
    out: Path,
    steps: int,
    *,
    resume: bool = False,
    name: str | None = None,
    context: RunContext | None = None,
    on_data: DataProgress | None = None,
    on_step: StepProgress | None = None,
) -> TrainResult:
    """Make (or reuse) the training set in ``out/data``, then :func:`run_training`."""
    start_run(settings.fingerprint(), out / CHECKPOINT, resume)  # a bad --resume fails before the attacks run
    _guide_size(settings)
    data = prepare_training_set(settings, out / "data", context=context, progress=on_data)
    return run_training(
        settings, data, out, steps, resume=resume, name=name, context=context, on_step=on_step
    )


def _guide_size(settings: TrainSettings) -> int:
    """The guide's input side, which the denoiser works at (and the shift must stay below)."""
    size = get_manifest(settings.target).input_size
    if settings.shift >= size:
        raise ConfigError(f"--shift {settings.shift} must be smaller than the guide's side ({size} pixels)")
    return size


def run_training(
    settings: TrainSettings,
    data: TrainingSet,
    out: Path,
    steps: int,
    *,
    resume: bool = False,
    name: str | None = None,
    context: RunContext | None = None,
    on_step: StepProgress | None = None,
) -> TrainResult:
    """Train (or continue) the run in ``out`` on ``data`` up to ``steps`` steps, checkpointing, then
    export the denoiser and its manifest (``<name>.onnx``, ``<name>.json``) from the last state."""
    path = out / CHECKPOINT
    size = _guide_size(settings)
    config = DunetConfig(size, settings.channels)
    state = start_run(settings.fingerprint(), path, resume) or _new_state(settings, config)
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
        guide = load_classifier(settings.target, context=context)
        step = LgdStep(training_graph(settings, config, context), adam.params, settings.batch, size, context)
        t0, s0, base = time.perf_counter(), state.step, state.seconds
        while state.step < steps:
            x, clean = _batch(data, rng, settings, size)
            loss = step.run(x, guide.logits(clean))
            adam.step(step.grads)
            state.step += 1
            state.losses.append(float(loss.mean()))
            elapsed = time.perf_counter() - t0
            if on_step is not None:
                rate = (state.step - s0) * settings.batch / max(elapsed, 1e-9)
                on_step(StepReport(state.step, steps, state.losses[-1], rate))
            if state.step % settings.checkpoint_every == 0 or state.step == steps:
                state.seconds = base + elapsed
                _save(path, state, adam, rng)
    rate = state.step * settings.batch / state.seconds if state.seconds > 0 else 0.0
    files: tuple[Path | None, Path | None] = (None, None)
    if state.step > 0:
        model_name = name or f"{settings.target}-hgd"
        files = export_denoiser(config, adam.params, out, name=model_name, target=settings.target)
    last = state.losses[-1] if state.losses else None
    return TrainResult(state.step, last, state.seconds, rate, path, *files)


def _save(path: Path, state: Checkpoint, adam: Adam, rng: np.random.Generator) -> None:
    state.params, state.adam_m, state.adam_v, state.adam_t = adam.params, adam.m, adam.v, adam.t
    state.rng_state = dict(rng.bit_generator.state)
    state.sessions[-1]["end_step"] = state.step
    save_checkpoint(path, state)


__all__ = [
    "CHECKPOINT",
    "LgdStep",
    "StepReport",
    "TrainResult",
    "run_training",
    "train_hgd",
    "training_graph",
]
