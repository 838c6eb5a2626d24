"""Training iwiwi's attack FCN (docs/fcn.md) with the HGD machinery: the gradient compiler's parameter
gradients, Adam on the host, IO binding, atomic checkpoints and an exact ``--resume``.

One step: a batch of clean training images (flipped and shifted like HGD's), one integer ε per image
drawn from 4–16 (so every head trains), the hint model's gradient sign (:func:`fcn_hint`), then one
compiled graph FCN → every source model behind its own resize → cross-entropy at the true labels,
with the gradients of the FCN's parameters only. The loss to *descend* is −Σ CE over the sources, so
Adam gets the negated gradients of the graph's (ascending) CE loss.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper

from advengine.attacks.fcn import fcn_hint
from advengine.context import RunContext
from advengine.data.images import to_model_input
from advengine.errors import DatasetError
from advengine.files import atomic_write
from advengine.graph.compiler import ForwardSpec, compile_spec
from advengine.graph.ensemble import ensemble_spec
from advengine.graph.forward import TARGET_OPSET
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
from advengine.training.augment import draw_augment
from advengine.training.binding import ParamStep
from advengine.training.checkpoint import Checkpoint, start_run
from advengine.training.fcn_settings import FcnSettings
from advengine.training.loop import CHECKPOINT, Step, StepProgress, TrainResult, run_steps
from advengine.training.trainset import training_split

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
NAME = "attack-fcn"


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


def fcn_step(
    graph: onnx.ModelProto, params: dict[str, F32], batch: int, size: int, context: RunContext | None
) -> ParamStep:
    """The compiled training graph bound once to its buffers: feeds ``input`` (:func:`pack_input`) and
    ``label``; its loss is the graph's weighted CE per sample, its gradients those of the ascending CE."""
    feeds: dict[str, np.ndarray[Any, Any]] = {
        "input": np.zeros((batch, IN_CHANNELS, size, size), np.float32),
        "label": np.zeros((batch,), np.int64),
    }
    return ParamStep(graph, params, feeds, context)


def training_images(settings: FcnSettings) -> tuple[U8, npt.NDArray[np.int64]]:
    """The images after the first ``holdout`` and their TF-Slim labels."""
    train = training_split(settings)
    if train.true_labels is None:
        raise DatasetError(f"{settings.data} has no labels (dev_dataset.csv); training needs true labels")
    return train.read_images(), train.true_labels


def new_state(settings: FcnSettings, config: FcnConfig) -> Checkpoint:
    """Step 0 of a run: initial parameters, zero moments, the seeded sampler."""
    rng = np.random.default_rng(derive_seed(settings.seed, "attack-fcn", "train"))
    params = init_params(config, derive_seed(settings.seed, "attack-fcn", "init"))
    return Checkpoint.first(params, rng, settings.fingerprint())


def train_attack_fcn(
    settings: FcnSettings,
    out: Path,
    steps: int,
    *,
    data: tuple[U8, npt.NDArray[np.int64]] | None = None,
    resume: bool = False,
    context: RunContext | None = None,
    on_step: StepProgress | None = None,
) -> TrainResult:
    """Train (or continue) the run in ``out`` up to ``steps`` steps on ``data``, uint8 NHWC images and
    their TF-Slim labels (None: the images of ``settings.data`` after the holdout); checkpoint (and keep
    the parameters of every checkpoint in ``out/snapshots``); export ``out/attack-fcn.onnx`` and its
    manifest from the last state."""
    if data is None:
        start_run(settings.fingerprint(), out / CHECKPOINT, resume)  # a bad --resume fails before loading
        data = training_images(settings)
    images, labels = data
    n, side = len(images), int(images.shape[1])
    if n < settings.batch_size:
        raise DatasetError(f"{n} training images are fewer than --batch-size {settings.batch_size}")
    config = FcnConfig(side, settings.channels)
    k = len(settings.sources)

    def make_step(params: dict[str, F32]) -> Step:
        step = fcn_step(
            fcn_training_graph(settings, config, context), params, settings.batch_size, side, context
        )
        ascend = {name: np.zeros_like(g) for name, g in step.grads.items()}

        def one(rng: np.random.Generator) -> tuple[float, dict[str, F32]]:
            picks = rng.choice(n, size=settings.batch_size, replace=False)
            x = draw_augment(rng, settings.batch_size, settings.shift)(to_model_input(images[picks]))
            eps = rng.integers(EPS_HEADS[0], EPS_HEADS[-1] + 1, size=settings.batch_size)
            hint = fcn_hint(x, settings.hint_model, context, side=side)
            loss = step.run({"input": pack_input(x, hint, eps), "label": labels[picks] - 1})
            for name, g in step.grads.items():  # descend −CE
                np.negative(g, out=ascend[name])
            return -k * float(loss.mean()), ascend  # −Σ CE (the graph weighs each source 1/K)

        return one

    def export(params: dict[str, F32], step: int) -> tuple[Path, Path]:
        return export_fcn(config, params, out, settings, step)

    first = partial(new_state, settings, config)
    return run_steps(settings, out, steps, first, make_step, export, resume=resume, on_step=on_step)


def export_fcn(
    config: FcnConfig, params: dict[str, F32], out: Path, settings: FcnSettings, steps: int
) -> tuple[Path, Path]:
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
    return out / manifest.file, path


__all__ = [
    "NAME",
    "export_fcn",
    "fcn_step",
    "fcn_training_graph",
    "new_state",
    "train_attack_fcn",
]
