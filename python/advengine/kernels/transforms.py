"""Input transformations a defense applies before its classifiers, on uint8 NHWC batches.

Each transform is named by a spec string ``name[:argument]`` so pipelines fit in a TOML list or a
CLI flag: ``median:2`` (median filter k×k, scipy semantics: reflect at the edges, an even window
takes the pixel and the ones above/left, and the upper middle value), ``bit-depth:5`` (rint to
2^b − 1 levels), ``jpeg:75`` (JPEG round trip at that quality),
``resize:200`` (bilinear down to that side and back up to the original).

They live below both attacks and defenses because both use them: a defense applies them, and an
adaptive attack (``advengine.attacks.pipeline_source``) replays the same pipeline, described by a
:class:`PipelineSpec`, to attack the defense as a whole (BPDA through these transforms, EOT over the
random resize + pad draws, whose distribution :func:`draw_resize_pad` defines for both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator

from advengine.errors import ConfigError
from advengine.kernels.bit_depth import bit_depth as bit_depth_kernel
from advengine.kernels.jpeg import jpeg_roundtrip
from advengine.kernels.median import median_filter
from advengine.kernels.resize import resize

U8 = npt.NDArray[np.uint8]


def median(images: U8, size: int) -> U8:
    return median_filter(images, size)


def bit_depth(images: U8, bits: int) -> U8:
    return bit_depth_kernel(images, bits)


def jpeg(images: U8, quality: int) -> U8:
    return jpeg_roundtrip(images, quality)


def resize_roundtrip(images: U8, side: int) -> U8:
    h, w = images.shape[1:3]
    return resize(resize(images, side, "bilinear"), (h, w), "bilinear")


@dataclass(frozen=True)
class TransformKind:
    apply: Callable[[U8, int], U8]
    default: int
    low: int
    high: int
    what: str


TRANSFORMS: dict[str, TransformKind] = {
    "median": TransformKind(median, 2, 1, 15, "window side"),
    "bit-depth": TransformKind(bit_depth, 5, 1, 8, "bits"),
    "jpeg": TransformKind(jpeg, 75, 1, 100, "quality"),
    "resize": TransformKind(resize_roundtrip, 200, 8, 4096, "side"),
}


@dataclass(frozen=True)
class Transform:
    kind: str
    arg: int

    def __call__(self, images: U8) -> U8:
        return TRANSFORMS[self.kind].apply(images, self.arg)

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}"


def parse_transform(spec: str) -> Transform:
    """``name[:argument]`` → Transform; a bad spec is one ConfigError naming the choices."""
    name, _, raw = spec.strip().partition(":")
    kind = TRANSFORMS.get(name)
    if kind is None:
        raise ConfigError(
            f"unknown transform {name!r} in {spec!r}; choose one of {', '.join(sorted(TRANSFORMS))}"
        )
    if not raw:
        return Transform(name, kind.default)
    try:
        arg = int(raw)
    except ValueError:
        raise ConfigError(f"transform {spec!r}: the {kind.what} must be an integer") from None
    if not kind.low <= arg <= kind.high:
        raise ConfigError(f"transform {spec!r}: the {kind.what} must be in {kind.low}..{kind.high}")
    return Transform(name, arg)


def _check_specs(value: tuple[str, ...]) -> tuple[str, ...]:
    for spec in value:
        parse_transform(spec)
    return value


#: A params field of transform specs, each checked by :func:`parse_transform` (defenses' and
#: adaptive attacks' ``transforms``).
TransformSpecs = Annotated[tuple[str, ...], AfterValidator(_check_specs)]

#: uint8 pad value of random-resize-pad: 127 is 0 after the models' (x·255 − 127)/128, i.e. the
#: original's zero padding in [−1, 1] space (mid-gray), not black.
PAD_GRAY = 127


@dataclass(frozen=True)
class ResizePadDraw:
    """One random resize + pad draw: nearest resize to ``size`` placed at (top, left) on a
    ``canvas``² gray canvas."""

    size: int
    top: int
    left: int
    canvas: int


def draw_resize_pad(rng: np.random.Generator, size_low: int, size_high: int, canvas: int) -> ResizePadDraw:
    """One random-resize-pad draw: size ∈ [size_low, size_high), uniform offset on the canvas."""
    size = int(rng.integers(size_low, size_high))
    top = int(rng.integers(0, canvas - size + 1))
    left = int(rng.integers(0, canvas - size + 1))
    return ResizePadDraw(size, top, left, canvas)


@dataclass(frozen=True)
class PipelineSpec:
    """What a pipeline defense does to an image before its classifiers, as data: the transforms in
    order, then (if ``draws`` > 0) random resize + pad draws with flips, then the models (with
    dropout at inference if ``dropout`` > 0) fused by ``fusion``. Defenses describe themselves with
    it; adaptive attacks attack what it describes."""

    models: tuple[str, ...]
    transforms: tuple[Transform, ...] = ()
    fusion: str = "logit"
    #: Random resize + pad draws of the defense (0: none, the pipeline is deterministic).
    draws: int = 0
    flip_prob: float = 0.5
    size_low: int = 310
    size_high: int = 331
    canvas: int = 331
    #: Dropout rate kept on at inference before each model's final layer (0: none).
    dropout: float = 0.0

    @property
    def randomized(self) -> bool:
        return self.draws > 0 or self.dropout > 0

    def describe(self) -> str:
        parts = [str(t) for t in self.transforms]
        if self.draws:
            parts.append(f"resize-pad×{self.draws}")
        if self.dropout:
            parts.append(f"dropout {self.dropout:g}")
        return " → ".join([*parts, "+".join(self.models)])


__all__ = [
    "PAD_GRAY",
    "TRANSFORMS",
    "PipelineSpec",
    "ResizePadDraw",
    "Transform",
    "TransformSpecs",
    "bit_depth",
    "draw_resize_pad",
    "jpeg",
    "median",
    "parse_transform",
    "resize_roundtrip",
]
