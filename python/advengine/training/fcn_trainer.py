"""Training iwiwi's attack FCN (docs/fcn.md) with the HGD machinery: the gradient compiler's parameter
gradients, Adam on the host, IO binding, atomic checkpoints and an exact ``--resume``.

One step: a batch of clean training images (flipped and shifted like HGD's), one integer ε per image
drawn from 4–16 (so every head trains), the hint model's gradient sign (:func:`fcn_hint`), then one
compiled graph FCN → every source model behind its own resize → cross-entropy at the true labels,
with the gradients of the FCN's parameters only. The loss to *descend* is −Σ CE over the sources, so
Adam gets the negated gradients of the graph's (ascending) CE loss.
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

from advengine.attacks.fcn import fcn_hint
from advengine.context import RunContext
from advengine.data import load_dataset
from advengine.data.images import to_model_input
from advengine.errors import DatasetError
from advengine.files import atomic_write
from advengine.graph.compiler import ForwardSpec, compile_spec
from advengine.graph.ensemble import ensemble_spec
from advengine.graph.forward import TARGET_OPSET
from advengine.graph.params import param_grad_name
from advengine.models import ensure_onnx
from advengine.models.fcn import (
    EPS_HEADS,
    IN_CHANNELS,
    OUTPUT,
    FcnConfig,
    build_fcn,
    init_params,
    pack_input,
    write_fcn,
)
from advengine.seeds import derive_seed
from advengine.training.adam import Adam
from advengine.training.augment import draw_augment
from advengine.training.binding import BoundGraph
from advengine.training.checkpoint import Checkpoint, save_checkpoint, start_run
from advengine.training.fcn_settings import FcnSettings
from advengine.training.trainer import CHECKPOINT, StepProgress, StepReport

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
NAME = "attack-fcn"
SNAPSHOTS = "snapshots"


@dataclass
class FcnResult:
    steps: int
    loss: float | None
    seconds: float
    images_per_s: float
    checkpoint: Path
    #: The exported FCN's manifest (None before the first step: nothing was trained).
    manifest: Path | None

    def summary(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "final_loss": self.loss,
            "seconds": round(self.seconds, 1),
            "images_per_s": round(self.images_per_s, 3),
            "checkpoint": str(self.checkpoint),
            "manifest": None if self.manifest is None else str(self.manifest),
        }


def fcn_training_graph(
    settings: FcnSettings, config: FcnConfig, context: RunContext | None
) -> onnx.ModelProto:
    """FCN → each source behind its own resize → CE at ``label``, at batch ``settings.batch_size``,
    with the FCN parameters' gradients (inputs ``fcn.*``, outputs ``grad/fcn.*``)."""
    root = context.cache_dir if context else None
    paths = [ensure_onnx(m, cache_root=root) for m in settings.sources]
    spec, _ = ensemble_spec(paths, None, "loss", config.size)
    fcn = build_fcn(config, init_params(config, 0)).graph  # the values do not matter: they become inputs
    ens = spec.model.graph
    for node in ens.node:  # the sources read the FCN's output instead of the ensemble's own input
        for i, name in enumerate(node.input):
            if name == "input":
                node.input[i] = OUTPUT
    graph = helper.make_graph(
        [*fcn.node, *ens.node],
        "attack-fcn-train",
        list(fcn.input),
        list(ens.output),
        initializer=[*fcn.initializer, *ens.initializer],
    )
    opset = max(TARGET_OPSET, *(o.version for o in spec.model.opset_import if o.domain in ("", "ai.onnx")))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    return compile_spec(
        ForwardSpec(model, spec.logits, spec.loss_terms),
        "attack-fcn-train",
        loss="ce",
        batch=settings.batch_size,
        size=config.size,
        wrt_params=list(config.shapes()),
        input_grad=False,
    )


class FcnStep:
    """The compiled training graph bound once to its buffers (:class:`BoundGraph`)."""

    def __init__(
        self,
        graph: onnx.ModelProto,
        params: dict[str, F32],
        batch: int,
        size: int,
        context: RunContext | None,
    ) -> None:
        self.grads = {k: np.zeros_like(p) for k, p in params.items()}
        inputs: dict[str, np.ndarray[Any, Any]] = {
            "input": np.zeros((batch, IN_CHANNELS, size, size), np.float32),
            "label": np.zeros((batch,), np.int64),
        }
        inputs.update(params)
        outputs = {"loss": np.zeros((batch,), np.float32)}
        outputs.update({param_grad_name(k): g for k, g in self.grads.items()})
        self.bound = BoundGraph(graph, inputs, outputs, context)
        self.loss = outputs["loss"]

    def run(self, packed: F32, class_idx: npt.NDArray[np.int64]) -> F32:
        """The graph's weighted CE per sample; the gradients (of the ascending CE) land in :attr:`grads`."""
        self.bound.run({"input": packed, "label": class_idx})
        return self.loss


def training_images(settings: FcnSettings) -> tuple[U8, npt.NDArray[np.int64]]:
    """The images after the first ``holdout`` and their TF-Slim labels."""
    ds = load_dataset(settings.data)
    if ds.true_labels is None:
        raise DatasetError(f"{settings.data} has no labels (dev_dataset.csv); training needs true labels")
    if len(ds) <= settings.holdout:
        raise DatasetError(
            f"{settings.data} has {len(ds)} images, all within --holdout {settings.holdout}; "
            "lower --holdout or use a larger dataset"
        )
    train = ds.take(range(settings.holdout, len(ds)))
    assert train.true_labels is not None
    return train.read_images(), train.true_labels


def train_attack_fcn(
    settings: FcnSettings,
    out: Path,
    steps: int,
    *,
    resume: bool = False,
    context: RunContext | None = None,
    on_step: StepProgress | None = None,
) -> FcnResult:
    """Load the training images of ``settings.data``, then :func:`run_fcn_training`."""
    start_run(settings.fingerprint(), out / CHECKPOINT, resume)  # a bad --resume fails before loading
    images, labels = training_images(settings)
    return run_fcn_training(
        settings, images, labels, out, steps, resume=resume, context=context, on_step=on_step
    )


def new_state(settings: FcnSettings, config: FcnConfig) -> Checkpoint:
    """Step 0 of a run: initial parameters, zero moments, the seeded sampler."""
    rng = np.random.default_rng(derive_seed(settings.seed, "attack-fcn", "train"))
    params = init_params(config, derive_seed(settings.seed, "attack-fcn", "init"))
    return Checkpoint.first(params, rng, settings.fingerprint())


def run_fcn_training(
    settings: FcnSettings,
    images: U8,
    labels: npt.NDArray[np.int64],
    out: Path,
    steps: int,
    *,
    resume: bool = False,
    context: RunContext | None = None,
    on_step: StepProgress | None = None,
) -> FcnResult:
    """Train (or continue) the run in ``out`` on uint8 NHWC ``images`` with TF-Slim ``labels`` up to
    ``steps`` steps; checkpoint (and keep the parameters of every checkpoint in ``out/snapshots``);
    export ``out/attack-fcn.onnx`` and its manifest from the last state."""
    path = out / CHECKPOINT
    n, side = len(images), int(images.shape[1])
    if n < settings.batch_size:
        raise DatasetError(f"{n} training images are fewer than --batch-size {settings.batch_size}")
    config = FcnConfig(side, settings.channels)
    state = start_run(settings.fingerprint(), path, resume) or new_state(settings, config)
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
    k = len(settings.sources)
    if state.step < steps:
        step = FcnStep(
            fcn_training_graph(settings, config, context), adam.params, settings.batch_size, side, context
        )
        ascend = {name: np.zeros_like(g) for name, g in step.grads.items()}
        t0, s0, base = time.perf_counter(), state.step, state.seconds
        while state.step < steps:
            picks = rng.choice(n, size=settings.batch_size, replace=False)
            x = draw_augment(rng, settings.batch_size, settings.shift)(to_model_input(images[picks]))
            eps = rng.integers(EPS_HEADS[0], EPS_HEADS[-1] + 1, size=settings.batch_size)
            hint = fcn_hint(x, settings.hint_model, context, side=side)
            loss = step.run(pack_input(x, hint, eps), labels[picks] - 1)
            for name, g in step.grads.items():  # descend −CE
                np.negative(g, out=ascend[name])
            adam.step(ascend)
            state.step += 1
            state.losses.append(-k * float(loss.mean()))  # −Σ CE (the graph weighs each source 1/K)
            elapsed = time.perf_counter() - t0
            if on_step is not None:
                rate = (state.step - s0) * settings.batch_size / max(elapsed, 1e-9)
                on_step(StepReport(state.step, steps, state.losses[-1], rate))
            if state.step % settings.checkpoint_every == 0 or state.step == steps:
                state.seconds = base + elapsed
                _save(out, state, adam, rng)
    rate = state.step * settings.batch_size / state.seconds if state.seconds > 0 else 0.0
    manifest = None
    if state.step > 0:
        manifest = export_fcn(config, adam.params, out, settings, state.step)
    last = state.losses[-1] if state.losses else None
    return FcnResult(state.step, last, state.seconds, rate, path, manifest)


def export_fcn(
    config: FcnConfig, params: dict[str, F32], out: Path, settings: FcnSettings, steps: int
) -> Path:
    """``out/attack-fcn.onnx`` and its manifest ``out/attack-fcn.json`` (sha256 of the file)."""
    data, manifest = write_fcn(
        config,
        params,
        out,
        name=NAME,
        hint_model=settings.hint_model,
        sources=settings.sources,
        steps=steps,
        images_seen=steps * settings.batch_size,
    )
    atomic_write(out / manifest.file, data)
    path = out / f"{NAME}.json"
    atomic_write(path, json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n")
    return path


def _save(out: Path, state: Checkpoint, adam: Adam, rng: np.random.Generator) -> None:
    state.params, state.adam_m, state.adam_v, state.adam_t = adam.params, adam.m, adam.v, adam.t
    state.rng_state = dict(rng.bit_generator.state)
    state.sessions[-1]["end_step"] = state.step
    save_checkpoint(out / CHECKPOINT, state)
    buf = io.BytesIO()
    np.savez(buf, **adam.params)  # type: ignore[arg-type]
    atomic_write(out / SNAPSHOTS / f"step-{state.step:06d}.npz", buf.getvalue())


__all__ = [
    "NAME",
    "FcnResult",
    "FcnStep",
    "export_fcn",
    "fcn_training_graph",
    "run_fcn_training",
    "train_attack_fcn",
]
