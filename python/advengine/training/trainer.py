"""HGD training with the LGD loss (Liao et al. 2018) on ONNX Runtime, no deep-learning framework.

One step: a batch of (input, clean) pairs from the training set, both resized to the denoiser's side
(the deployed classifier's input side) and augmented alike, then cut to the same random crop (the
whole image by default); the guide's logits on the clean crops (a forward-only session) are the
target; the compiled graph DUNET → guide → ``l1`` head gives Σ_k |z_k(x − D(x)) − t_k| per sample and
its gradient with respect to the DUNET's parameters only (the guide's weights are constants); Adam
updates the parameters on the host, in place (:mod:`advengine.training.loop`).

The guide may be a cheaper classifier than the deployed one (``deploy``), and the crops smaller than
the denoiser's side (``crop``): both make a step cheaper (docs/hgd.md, v2). A run may start from
trained weights (``init``) instead of the identity denoiser.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx

from advengine.context import RunContext
from advengine.data.images import to_model_input
from advengine.errors import ConfigError
from advengine.graph.compiler import ForwardSpec, compile_spec
from advengine.models import get_manifest, resize_bilinear
from advengine.models.denoised import DENOISER_PREFIX, compose_denoised
from advengine.models.dunet import DunetConfig, build_dunet, init_params, read_dunet
from advengine.seeds import derive_seed
from advengine.training.augment import draw_augment
from advengine.training.binding import ParamStep
from advengine.training.checkpoint import Checkpoint, start_run
from advengine.training.export import export_denoiser
from advengine.training.guide import GuideLogits, guide_model
from advengine.training.loop import (
    CHECKPOINT,
    Step,
    StepProgress,
    StepReport,
    TrainResult,
    run_steps,
)
from advengine.training.settings import TrainSettings
from advengine.training.trainset import DataProgress, TrainingSet, prepare_training_set

F32 = npt.NDArray[np.float32]
CLASSES = 1000


def sides(settings: TrainSettings) -> tuple[int, int]:
    """(the denoiser's side: the deployed classifier's input side, the training crops' side)."""
    side = get_manifest(settings.deployed).input_size
    crop = settings.crop or get_manifest(settings.target).input_size
    if crop > side:
        raise ConfigError(
            f"--crop {crop} is larger than the denoiser's side ({side} pixels, {settings.deployed}'s "
            "input); give a smaller --crop"
        )
    if settings.shift >= side:
        raise ConfigError(
            f"--shift {settings.shift} must be smaller than the denoiser's side ({side} pixels)"
        )
    return side, crop


def training_graph(
    settings: TrainSettings, config: DunetConfig, context: RunContext | None
) -> onnx.ModelProto:
    """DUNET → guide → ``l1`` head at batch ``settings.batch_size`` and side ``config.size``, with the
    gradients of the DUNET's parameters (graph inputs ``denoiser/<name>``, outputs
    ``grad/denoiser/<name>``)."""
    guide = guide_model(settings.target, config.size, context)
    dunet = build_dunet(config, init_params(config, 0))  # the values do not matter: they become inputs
    composed = compose_denoised(dunet, guide, input_size=config.size, name="hgd-train")
    return compile_spec(
        ForwardSpec(composed, "logits"),
        "hgd-train",
        loss="l1",
        batch=settings.batch_size,
        wrt_params=[DENOISER_PREFIX + n for n in config.shapes()],
        input_grad=False,
    )


def lgd_step(
    graph: onnx.ModelProto, params: dict[str, F32], batch: int, size: int, context: RunContext | None
) -> ParamStep:
    """The compiled training graph bound once to its buffers: feeds ``input`` and ``target`` (the
    guide's clean logits)."""
    feeds = {
        "input": np.zeros((batch, 3, size, size), np.float32),
        "target": np.zeros((batch, CLASSES), np.float32),
    }
    return ParamStep(graph, params, feeds, context, prefix=DENOISER_PREFIX)


def first_state(settings: TrainSettings, config: DunetConfig) -> Checkpoint:
    """Step 0: the seeded sampler and the identity denoiser, or the ``init`` weights."""
    rng = np.random.default_rng(derive_seed(settings.seed, "hgd", "train"))
    if settings.init is None:
        params = init_params(config, derive_seed(settings.seed, "hgd", "init"))
    else:
        params = init_weights(Path(settings.init), config)
    return Checkpoint.first(params, rng, settings.fingerprint())


def init_weights(path: Path, config: DunetConfig) -> dict[str, F32]:
    """The weights of the DUNET file ``path``, which must have ``config``'s channels."""
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ...: all mean "no DUNET here"
        raise ConfigError(f"--init {path} is not a readable ONNX file ({type(exc).__name__})") from None
    found, params = read_dunet(model)
    if found.channels != config.channels:
        raise ConfigError(
            f"--init {path} has channels {','.join(map(str, found.channels))}, the run "
            f"{','.join(map(str, config.channels))}; give the same --channels"
        )
    return params


def draw_batch(
    data: TrainingSet, rng: np.random.Generator, settings: TrainSettings, side: int, crop: int
) -> tuple[F32, F32]:
    """A batch of (input, clean) pairs at the denoiser's ``side``, augmented alike, then cut to the
    same random ``crop`` (no cut when ``crop`` is the side)."""
    b = settings.batch_size
    picks = rng.choice(len(data), size=b, replace=False)
    pairs = [data.pair(int(k)) for k in picks]
    u8 = np.stack([p[0] for p in pairs] + [p[1] for p in pairs])
    x = resize_bilinear(to_model_input(u8), side)
    aug = draw_augment(rng, b, settings.shift)
    x, clean = aug(x[:b]), aug(x[b:])
    if crop == side:
        return x, clean
    at = rng.integers(0, side - crop + 1, size=(b, 2))
    cut = [(slice(None), slice(y, y + crop), slice(z, z + crop)) for y, z in at.tolist()]
    return (
        np.stack([x[i][c] for i, c in enumerate(cut)]),
        np.stack([clean[i][c] for i, c in enumerate(cut)]),
    )


def train_hgd(
    settings: TrainSettings,
    out: Path,
    steps: int,
    *,
    data: TrainingSet | None = None,
    resume: bool = False,
    name: str | None = None,
    context: RunContext | None = None,
    on_data: DataProgress | None = None,
    on_step: StepProgress | None = None,
) -> TrainResult:
    """Train (or continue) the run in ``out`` up to ``steps`` steps on ``data`` (None: make or reuse
    the training set in ``out/data``), checkpointing, then export the denoiser and its manifest
    (``<name>.onnx``, ``<name>.json``) from the last state."""
    if data is None:
        start_run(settings.fingerprint(), out / CHECKPOINT, resume)  # a bad --resume fails before the attacks
        _, crop = sides(settings)
        if settings.init is not None and not resume:  # and so does a bad --init
            init_weights(Path(settings.init), DunetConfig(crop, settings.channels))
        data = prepare_training_set(settings, out / "data", context=context, progress=on_data)
    batches = data
    side, crop = sides(settings)
    config = DunetConfig(crop, settings.channels)

    def make_step(params: dict[str, F32]) -> Step:
        step = lgd_step(training_graph(settings, config, context), params, settings.batch_size, crop, context)
        guide = GuideLogits(settings.target, crop, context)

        def one(rng: np.random.Generator) -> tuple[float, dict[str, F32]]:
            x, clean = draw_batch(batches, rng, settings, side, crop)
            return float(step.run({"input": x, "target": guide(clean)}).mean()), step.grads

        return one

    def export(params: dict[str, F32], step: int) -> tuple[Path, Path]:
        whole = DunetConfig(side, settings.channels)  # the denoiser at the deployed side, not the crop's
        model = name or f"{settings.deployed}-hgd"
        return export_denoiser(whole, params, out, name=model, target=settings.deployed)

    first, before = partial(first_state, settings, config), settings.init_images
    return run_steps(
        settings, out, steps, first, make_step, export, resume=resume, on_step=on_step, images_before=before
    )


__all__ = [
    "CHECKPOINT",
    "StepReport",
    "TrainResult",
    "draw_batch",
    "first_state",
    "lgd_step",
    "sides",
    "train_hgd",
    "training_graph",
]
