"""Composable defenses: input transforms → (optional) random resize + pad draws → a classifier
ensemble, plus named presets of the NIPS 2017 defenses.

``pipeline`` takes everything as parameters; the presets only change defaults:

* ``ensemble``: the zoo's models, probabilities averaged (``fusion = "prob"``) or logits (``"logit"``);
* ``median``: 2×2 median filter in front of the classifier(s) (4th place, feature squeezing);
* ``random-resize-pad``: 2nd place (iyswim), see :data:`RANDOM_RESIZE_PAD_DOC`;
* ``drop-resize``: random resize + pad with dropout kept on at inference, see :data:`DROP_RESIZE_DOC`;
* ``erko``: the 2×2 median in front of the zoo ensemble, probabilities averaged;
* ``resize``: bilinear down to 200 and back up; ``jpeg``: quality 75; ``bit-depth``: 5 bits;
* ``hgd``: the shipped HGD denoiser in front of efficientnet-lite2 (one zoo model, see docs/hgd.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from advengine.data.labels import labels_from_logits
from advengine.defenses.base import DEFENSES, Defense
from advengine.defenses.classifier import DEFAULT_MODEL, ModelEnsemble, Threads, softmax
from advengine.errors import ParameterError
from advengine.kernels import resize_pad
from advengine.kernels.transforms import PAD_GRAY, PipelineSpec, Transform, TransformSpecs, parse_transform
from advengine.models import check_models, list_models
from advengine.params import Params
from advengine.types import ImagesU8, Labels

F32 = npt.NDArray[np.float32]


class PipelineParams(Params):
    #: Input transforms in order, ``name[:argument]`` (median, bit-depth, jpeg, resize).
    transforms: TransformSpecs = ()
    #: How the models' outputs are combined: mean logits or mean probabilities.
    fusion: Literal["logit", "prob"] = "logit"
    #: Random resize + pad draws (0: none).
    draws: Annotated[int, Field(ge=0)] = 0
    #: Probability of flipping the stored image horizontally before each draw (the flip persists).
    flip_prob: Annotated[float, Field(ge=0, le=1)] = 0.5
    #: Random resize side: rnd ∈ [size_low, size_high) (half-open), nearest neighbour.
    size_low: Annotated[int, Field(ge=1)] = 310
    #: Exclusive upper bound of rnd.
    size_high: Annotated[int, Field(ge=2)] = 331
    #: Side of the gray canvas the resized image is padded to at a random offset.
    canvas: Annotated[int, Field(ge=1)] = 331
    #: Draw size, offset and flip per image (as the report describes) or once per batch (as the
    #: team's code did).
    per_image: bool = True
    #: Dropout rate kept on at inference on each model's pooled features (0: none); every draw (or,
    #: without resize + pad draws, one pass) gets fresh masks from the defense's seed.
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    threads: Threads = None

    @model_validator(mode="after")
    def _sizes_fit(self) -> PipelineParams:
        if not self.size_low < self.size_high <= self.canvas + 1:
            raise ValueError(
                f"the resize range [size_low, size_high) = [{self.size_low}, {self.size_high}) must be "
                f"non-empty and fit the canvas ({self.canvas})"
            )
        return self


def resize_pad_nearest(images: ImagesU8, size: int, canvas: int, top: int, left: int) -> ImagesU8:
    """Nearest resize to ``size`` placed at (top, left) on a gray canvas, one draw for the batch."""
    params = np.tile(np.array([[size, top, left]], np.int64), (len(images), 1))
    return resize_pad(images, canvas, params, pad_value=PAD_GRAY)


def draw_resize_pad(
    n: int, p: PipelineParams, rng: np.random.Generator
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """One draw for ``n`` images: which flip, and ``(rnd, top, left)`` rows for :func:`resize_pad`,
    rnd ∈ [size_low, size_high) and offsets in [0, canvas − rnd]; per image, or one for the batch."""
    k = n if p.per_image else 1
    flips = rng.random(k) < p.flip_prob
    sizes = rng.integers(p.size_low, p.size_high, size=k)
    tops = rng.integers(0, p.canvas - sizes + 1)
    lefts = rng.integers(0, p.canvas - sizes + 1)
    rows = np.stack([sizes, tops, lefts], axis=1).astype(np.int64)
    if not p.per_image:
        flips, rows = np.repeat(flips, n), np.repeat(rows, n, axis=0)
    return flips, rows


class PipelineDefense(Defense[PipelineParams]):
    """Transforms, then the models (optionally over random resize + pad draws), fused."""

    params_type = PipelineParams

    def __init__(self, params: PipelineParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        check_models(self.models, self.name)
        self.transforms: list[Transform] = [parse_transform(s) for s in params.transforms]
        self.ensemble = ModelEnsemble(self.models, params.threads, self.context, params.dropout)

    def default_models(self) -> tuple[str, ...]:
        return (DEFAULT_MODEL,)

    def spec(self) -> PipelineSpec:
        """The pipeline as data, for adaptive attacks that attack it whole."""
        p = self.params
        return PipelineSpec(
            self.models,
            tuple(self.transforms),
            p.fusion,
            p.draws,
            p.flip_prob,
            p.size_low,
            p.size_high,
            p.canvas,
            p.dropout,
        )

    def warm_up(self, batch: int) -> None:
        self.ensemble.classifiers()

    def probabilities(self, images: ImagesU8, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        """Class probabilities [n, 1000] the labels are the argmax of (index k = label k + 1): the
        fused scores' softmax, or with random resize + pad the mean over draws (each with its own
        dropout masks when ``dropout`` > 0)."""
        if len(images) == 0:
            raise ParameterError(f"{self.name} defense got an empty batch")
        batch = images
        for t in self.transforms:
            batch = t(batch)
        p = self.params
        if p.draws == 0:
            s = self.ensemble.scores(batch, p.fusion, rng)
            return s if p.fusion == "prob" else softmax(s)
        total = np.zeros((len(batch), 1000), np.float64)
        stored = batch
        for _ in range(p.draws):
            flips, rows = draw_resize_pad(len(stored), p, rng)
            stored = np.ascontiguousarray(np.where(flips[:, None, None, None], stored[:, :, ::-1], stored))
            view = resize_pad(stored, p.canvas, rows, pad_value=PAD_GRAY)
            total += self.ensemble.scores(view, p.fusion, rng)
        mean = total / p.draws  # mean logits or mean probabilities over the draws
        return mean if p.fusion == "prob" else softmax(mean)

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        return labels_from_logits(self.probabilities(images, rng))


def zoo() -> tuple[str, ...]:
    """Every plain classifier of the zoo (the ``ensemble`` preset's default)."""
    return tuple(list_models(denoised=False))


DEFENSES.register_preset("pipeline", PipelineDefense)
DEFENSES.register_preset(
    "ensemble",
    PipelineDefense,
    doc="The zoo's models with mean probabilities (or mean logits with fusion=logit).",
    default_models=zoo,
    fusion="prob",
)
DEFENSES.register_preset(
    "median",
    PipelineDefense,
    doc="2×2 median filter (scipy semantics), then the classifier(s) (4th place).",
    transforms=("median:2",),
)
#: The ``random-resize-pad`` preset's documentation (``advengine list`` shows it).
RANDOM_RESIZE_PAD_DOC = """iyswim (2nd place defense), as the report's section on the team (Kurakin
    et al. 2018, "randomization" defense of Xie et al.) describes it: each of 30 draws flips each image
    with p = 0.5 (the flip persists into the next draw, as the team's code), resizes it nearest-neighbour
    (TF1, no half-pixel centres) to rnd × rnd with rnd ∈ [310, 331), pads it at a uniform random offset
    to 331 × 331, and the logits are averaged over the draws. Per image: size, offset and flip are drawn
    for every image (``per_image = false``: one draw per batch, as the team's code did). Bounds are
    ``size_low``, ``size_high``, ``canvas``. Differences: ens-adv-Inception-ResNet-v2 (331 input) is
    replaced by the zoo model(s), each fed the 331 canvas resized bilinearly to its native size; the pad
    is uint8 127, which the models' (x·255 − 127)/128 maps to 0 (the original's zero in [−1, 1], i.e.
    mid-gray); no aux head; the team's code summed softmax (+ 0.4 aux) instead of logits: ``fusion =
    "prob"`` averages probabilities."""

DEFENSES.register_preset(
    "random-resize-pad",
    PipelineDefense,
    doc=RANDOM_RESIZE_PAD_DOC,
    randomized=True,
    draws=30,
)
#: The ``drop-resize`` preset's documentation (``advengine list`` shows it).
DROP_RESIZE_DOC = """drop_resize (Kurakin et al. 2018: the entry named drop_resize in issue 19, item 6; the
    report's text on it was not available offline, so its section is cited by the entry's name only):
    the randomised resize + pad input step with the classifier's dropout kept on at inference, several
    stochastic passes averaged. Each of ``draws`` = 10 passes draws a flip, a nearest resize to
    [310, 331) and a gray pad to 331 per image (random-resize-pad's geometry) and fresh dropout masks
    at rate ``dropout`` = 0.2 on each model's pooled features before its final layer (inverted
    dropout, ×1/(1 − p); in the ONNX graph, :mod:`advengine.models.dropout`); the pass
    probabilities are averaged (``fusion = "prob"``). The masks are drawn from the defense's seed, so
    ``eval`` is reproducible. Differences and assumptions: the number of passes (10), the rate (0.2:
    TF-Slim Inception v3 / Inception-ResNet-v2's ``dropout_keep_prob`` = 0.8 and EfficientNet-Lite0/1's
    training rate), the resize range and the probability averaging are chosen here, not taken from
    the report; the team's ImageNet models are replaced by the zoo model(s), each fed the 331 canvas
    resized bilinearly to its native size; dropout acts only before the final layer, not inside the
    network."""

DEFENSES.register_preset(
    "drop-resize",
    PipelineDefense,
    doc=DROP_RESIZE_DOC,
    randomized=True,
    draws=10,
    dropout=0.2,
    fusion="prob",
)
DEFENSES.register_preset(
    "erko",
    PipelineDefense,
    doc="""erko (Yerkebulan Berdibekov; Kurakin et al. 2018, the team's section): a 2×2 median filter
    in front of an ensemble, the members' probabilities averaged. Differences: the team's ensemble of
    ImageNet models is replaced by the zoo (efficientnet-lite0/1/2); the median follows scipy
    (size (1, 2, 2, 1), reflect, upper middle of 4) as in feature squeezing.""",
    default_models=zoo,
    transforms=("median:2",),
    fusion="prob",
)
DEFENSES.register_preset(
    "resize",
    PipelineDefense,
    doc="Bilinear down to 200 and back up to 299, then the classifier(s).",
    transforms=("resize:200",),
)
DEFENSES.register_preset(
    "jpeg",
    PipelineDefense,
    doc="JPEG round trip at quality 75, then the classifier(s).",
    transforms=("jpeg:75",),
)
DEFENSES.register_preset(
    "bit-depth",
    PipelineDefense,
    doc="Colour depth reduced to 5 bits (feature squeezing), then the classifier(s).",
    transforms=("bit-depth:5",),
)

#: The zoo model of the ``hgd`` preset: the trained DUNET composed with its guide (docs/hgd.md).
HGD_MODEL = "efficientnet-lite2-hgd"


def hgd_models() -> tuple[str, ...]:
    return (HGD_MODEL,)


DEFENSES.register_preset(
    "hgd",
    PipelineDefense,
    doc="""HGD (TSAIL, 1st place defense; Liao et al. 2018): a DUNET denoiser trained with the LGD
    loss (the guide's logits on the denoised adversarial image match those on the clean image) in
    front of efficientnet-lite2, shipped as the zoo model efficientnet-lite2-hgd (denoiser ONNX inside
    the package, sha256-checked on load). Differences: a CPU-sized DUNET (4 levels, 8-16-32-64
    channels, no batch norm) trained by `advengine train hgd` on adversarial examples of the DEV
    images from lite0/lite1 (docs/hgd.md), instead of the report's full DUNET on ImageNet images;
    the denoiser runs at lite2's 260 × 260 input. Differentiable: white-box and adaptive attacks
    see through it.""",
    default_models=hgd_models,
)


__all__ = [
    "DROP_RESIZE_DOC",
    "HGD_MODEL",
    "PAD_GRAY",
    "RANDOM_RESIZE_PAD_DOC",
    "PipelineDefense",
    "PipelineParams",
    "draw_resize_pad",
    "resize_pad_nearest",
]
