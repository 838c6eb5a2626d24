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

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from advengine.data.images import to_model_input
from advengine.data.labels import labels_from_logits
from advengine.defenses.base import Defense
from advengine.defenses.classifier import DEFAULT_MODEL, providers_from_env
from advengine.defenses.registry import register
from advengine.defenses.transforms import Transform, parse_transform
from advengine.errors import ParameterError
from advengine.kernels import resize_pad
from advengine.models import OnnxClassifier, list_models, load_classifier
from advengine.params import Params
from advengine.types import ImagesU8, Labels

F32 = npt.NDArray[np.float32]
#: uint8 pad value of random-resize-pad: 127 is 0 after the models' (x·255 − 127)/128, i.e. the
#: original's zero padding in [−1, 1] space (mid-gray), not black.
PAD_GRAY = 127


@dataclasses.dataclass(frozen=True)
class PipelineParams(Params):
    #: Input transforms in order, ``name[:argument]`` (median, bit-depth, jpeg, resize).
    transforms: tuple[str, ...] = ()
    #: How the models' outputs are combined: mean logits or mean probabilities.
    fusion: Literal["logit", "prob"] = "logit"
    #: Random resize + pad draws (0: none).
    draws: int = 0
    #: Probability of flipping the stored batch horizontally before each draw.
    flip_prob: float = 0.5
    #: Random resize target side: rnd ∈ [299, 299 + pad_extra), canvas 299 + pad_extra.
    pad_extra: int = 31
    #: ONNX Runtime intra-op threads per model (None: ONNX Runtime's default).
    threads: int | None = None

    def __post_init__(self) -> None:
        for spec in self.transforms:
            parse_transform(spec)
        if self.draws < 0:
            raise ValueError(f"draws must be non-negative, got {self.draws}")
        if not 0 <= self.flip_prob <= 1:
            raise ValueError(f"flip_prob must be in [0, 1], got {self.flip_prob}")
        if not 1 <= self.pad_extra <= 299:
            raise ValueError(f"pad_extra must be in 1..299, got {self.pad_extra}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")


def softmax(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: npt.NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return out


def resize_pad_nearest(images: ImagesU8, size: int, canvas: int, top: int, left: int) -> ImagesU8:
    """Nearest resize to ``size`` placed at (top, left) on a gray canvas, one draw for the batch."""
    params = np.tile(np.array([[size, top, left]], np.int64), (len(images), 1))
    return resize_pad(images, canvas, params, pad_value=PAD_GRAY)


@register
class PipelineDefense(Defense):
    """Transforms, then the models (optionally over random resize + pad draws), fused."""

    name = "pipeline"
    params_type = PipelineParams

    def __init__(self, params: Params | None = None, *, models: Sequence[str] = ()) -> None:
        super().__init__(params, models=models or self.default_models())
        known = set(list_models())
        bad = [m for m in self.models if m not in known]
        if bad:
            raise ParameterError(
                f"{self.name}: unknown model {bad[0]!r}; known models: {', '.join(sorted(known))}"
            )
        self.transforms: list[Transform] = [parse_transform(s) for s in self.pp.transforms]
        self._classifiers: list[OnnxClassifier] | None = None

    @property
    def pp(self) -> PipelineParams:
        assert isinstance(self.params, PipelineParams)
        return self.params

    def default_models(self) -> tuple[str, ...]:
        return (DEFAULT_MODEL,)

    def _load(self) -> list[OnnxClassifier]:
        # Lazily, so building a roster (config validation) never loads a model.
        if self._classifiers is None:
            self._classifiers = [
                load_classifier(m, providers=providers_from_env(), threads=self.pp.threads)
                for m in self.models
            ]
        return self._classifiers

    def scores(self, images: ImagesU8) -> npt.NDArray[np.float64]:
        """Fused scores (mean logits or mean probabilities) of a transformed batch."""
        x = to_model_input(images)
        total = np.zeros((len(images), 1000), np.float64)
        classifiers = self._load()
        for clf in classifiers:
            z = clf.logits(clf.prepare(x)).astype(np.float64)
            total += softmax(z) if self.pp.fusion == "prob" else z
        return total / len(classifiers)

    def probabilities(self, images: ImagesU8, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        """Class probabilities [n, 1000] the labels are the argmax of (index k = label k + 1): the
        fused scores' softmax, or with random resize + pad the mean over draws."""
        if len(images) == 0:
            raise ParameterError(f"{self.name} defense got an empty batch")
        batch = images
        for t in self.transforms:
            batch = t(batch)
        p = self.pp
        if p.draws == 0:
            s = self.scores(batch)
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
            s = self.scores(resize_pad_nearest(stored, size, canvas, top, left))
            total += s if p.fusion == "prob" else softmax(s)
        return total / p.draws

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        return labels_from_logits(self.probabilities(images, rng))


@dataclasses.dataclass(frozen=True)
class EnsembleParams(PipelineParams):
    fusion: Literal["logit", "prob"] = "prob"


@register
class EnsembleDefense(PipelineDefense):
    """The zoo's models with mean probabilities (or mean logits with fusion=logit)."""

    name = "ensemble"
    params_type = EnsembleParams

    def default_models(self) -> tuple[str, ...]:
        return tuple(list_models())


@dataclasses.dataclass(frozen=True)
class MedianParams(PipelineParams):
    transforms: tuple[str, ...] = ("median:2",)


@register
class MedianDefense(PipelineDefense):
    """2×2 median filter (scipy semantics), then the classifier(s) (4th place)."""

    name = "median"
    params_type = MedianParams


@dataclasses.dataclass(frozen=True)
class RandomResizePadParams(PipelineParams):
    draws: int = 30


@register
class RandomResizePadDefense(PipelineDefense):
    """Random resize + pad, 30 draws with persistent flips, softmax summed (2nd place)."""

    name = "random-resize-pad"
    params_type = RandomResizePadParams
    randomized = True


@dataclasses.dataclass(frozen=True)
class ResizeParams(PipelineParams):
    transforms: tuple[str, ...] = ("resize:200",)


@register
class ResizeDefense(PipelineDefense):
    """Bilinear down to 200 and back up to 299, then the classifier(s)."""

    name = "resize"
    params_type = ResizeParams


@dataclasses.dataclass(frozen=True)
class JpegParams(PipelineParams):
    transforms: tuple[str, ...] = ("jpeg:75",)


@register
class JpegDefense(PipelineDefense):
    """JPEG round trip at quality 75, then the classifier(s)."""

    name = "jpeg"
    params_type = JpegParams


@dataclasses.dataclass(frozen=True)
class BitDepthParams(PipelineParams):
    transforms: tuple[str, ...] = ("bit-depth:5",)


@register
class BitDepthDefense(PipelineDefense):
    """Colour depth reduced to 5 bits (feature squeezing), then the classifier(s)."""

    name = "bit-depth"
    params_type = BitDepthParams


__all__ = ["PAD_GRAY", "PipelineDefense", "PipelineParams", "resize_pad_nearest"]
