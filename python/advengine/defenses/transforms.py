"""Input transformations a defense applies before its classifiers, on uint8 NHWC batches.

Each transform is named by a spec string ``name[:argument]`` so pipelines fit in a TOML list or a
CLI flag: ``median:2`` (median filter k×k, scipy semantics: reflect at the edges, an even window
takes the pixel and the ones above/left, and the upper middle value), ``bit-depth:5`` (rint to
2^b − 1 levels), ``jpeg:75`` (JPEG round trip at that quality),
``resize:200`` (bilinear down to that side and back up to the original).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from advengine import kernels
from advengine.errors import ConfigError
from advengine.kernels import jpeg_roundtrip, median_filter, resize

U8 = npt.NDArray[np.uint8]


def median(images: U8, size: int) -> U8:
    return median_filter(images, size)


def bit_depth(images: U8, bits: int) -> U8:
    return kernels.bit_depth(images, bits)


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


__all__ = ["TRANSFORMS", "Transform", "bit_depth", "jpeg", "median", "parse_transform", "resize_roundtrip"]
