"""Composable defenses: input transforms → (optional) random resize + pad draws → a classifier
ensemble, plus named presets of the NIPS 2017 defenses.

``pipeline`` takes everything as parameters; the presets only change defaults:

* ``ensemble``: the zoo's models, probabilities averaged (``fusion = "prob"``) or logits (``"logit"``);
* ``median``: 2×2 median filter in front of the classifier(s) (4th place, feature squeezing);
* ``random-resize-pad``: 2nd place (iyswim): 30 draws, each flips the stored batch with p = 0.5 (the
  flip state persists, as in the original), resizes nearest-neighbour 299 → rnd ∈ [299, 330), pads
  with mid-gray (zero after the models' normalisation) to 330×330 at a random offset, and resizes
  bilinearly to each model's native size; softmax summed over draws. One draw per batch, as the
  original; scaled from its 299 → [310, 331) on a 331 canvas to our 299-pixel images (docs/attacks.md);
* ``resize``: bilinear down to 200 and back up; ``jpeg``: quality 75; ``bit-depth``: 5 bits.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator

from advengine.data.labels import labels_from_logits
from advengine.defenses.base import DEFENSES, Defense
from advengine.defenses.classifier import DEFAULT_MODEL, ModelEnsemble, Threads, softmax
from advengine.defenses.transforms import Transform, parse_transform
from advengine.errors import ParameterError
from advengine.kernels import resize_pad
from advengine.models import check_models, list_models
from advengine.params import Params
from advengine.types import ImagesU8, Labels

F32 = npt.NDArray[np.float32]
#: uint8 pad value of random-resize-pad: 127 is 0 after the models' (x·255 − 127)/128, i.e. the
#: original's zero padding in [−1, 1] space (mid-gray), not black.
PAD_GRAY = 127


class PipelineParams(Params):
    #: Input transforms in order, ``name[:argument]`` (median, bit-depth, jpeg, resize).
    transforms: tuple[str, ...] = ()
    #: How the models' outputs are combined: mean logits or mean probabilities.
    fusion: Literal["logit", "prob"] = "logit"
    #: Random resize + pad draws (0: none).
    draws: Annotated[int, Field(ge=0)] = 0
    #: Probability of flipping the stored batch horizontally before each draw.
    flip_prob: Annotated[float, Field(ge=0, le=1)] = 0.5
    #: Random resize target side: rnd ∈ [299, 299 + pad_extra), canvas 299 + pad_extra.
    pad_extra: Annotated[int, Field(ge=1, le=299)] = 31
    threads: Threads = None

    @field_validator("transforms")
    @classmethod
    def _known_transforms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for spec in value:
            parse_transform(spec)
        return value


def resize_pad_nearest(images: ImagesU8, size: int, canvas: int, top: int, left: int) -> ImagesU8:
    """Nearest resize to ``size`` placed at (top, left) on a gray canvas, one draw for the batch."""
    params = np.tile(np.array([[size, top, left]], np.int64), (len(images), 1))
    return resize_pad(images, canvas, params, pad_value=PAD_GRAY)


class PipelineDefense(Defense[PipelineParams]):
    """Transforms, then the models (optionally over random resize + pad draws), fused."""

    params_type = PipelineParams

    def __init__(self, params: PipelineParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        check_models(self.models, self.name)
        self.transforms: list[Transform] = [parse_transform(s) for s in params.transforms]
        self.ensemble = ModelEnsemble(self.models, params.threads, self.context)

    def default_models(self) -> tuple[str, ...]:
        return (DEFAULT_MODEL,)

    def probabilities(self, images: ImagesU8, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        """Class probabilities [n, 1000] the labels are the argmax of (index k = label k + 1): the
        fused scores' softmax, or with random resize + pad the mean over draws."""
        if len(images) == 0:
            raise ParameterError(f"{self.name} defense got an empty batch")
        batch = images
        for t in self.transforms:
            batch = t(batch)
        p = self.params
        if p.draws == 0:
            s = self.ensemble.scores(batch, p.fusion)
            return s if p.fusion == "prob" else softmax(s)
        side = batch.shape[1]
        canvas = side + p.pad_extra
        total = np.zeros((len(batch), 1000), np.float64)
        stored = batch
        for _ in range(p.draws):
            if rng.random() < p.flip_prob:
                stored = np.ascontiguousarray(stored[:, :, ::-1])
            size = int(rng.integers(side, canvas))
            top = int(rng.integers(0, canvas - size + 1))
            left = int(rng.integers(0, canvas - size + 1))
            s = self.ensemble.scores(resize_pad_nearest(stored, size, canvas, top, left), p.fusion)
            total += s if p.fusion == "prob" else softmax(s)
        return total / p.draws

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        return labels_from_logits(self.probabilities(images, rng))


def zoo() -> tuple[str, ...]:
    """Every model of the zoo (the ``ensemble`` preset's default)."""
    return tuple(list_models())


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
DEFENSES.register_preset(
    "random-resize-pad",
    PipelineDefense,
    doc="Random resize + pad, 30 draws with persistent flips, softmax summed (2nd place).",
    randomized=True,
    draws=30,
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


__all__ = ["PAD_GRAY", "PipelineDefense", "PipelineParams", "resize_pad_nearest"]
