"""The NIPS 2017 sample baselines that need no model: ``noop`` and ``random-noise``.

Unlike the original samples, nothing is min-max rescaled on save (scipy.misc.imsave did that), so
``noop`` really is the identity.
"""

from __future__ import annotations

import numpy as np

from advengine.attacks.base import Attack
from advengine.attacks.registry import register
from advengine.params import Params
from advengine.types import ImagesF32, Labels


@register
class Noop(Attack[Params]):
    """Returns the clean images unchanged."""

    name = "noop"

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        return x


@register
class RandomNoise(Attack[Params]):
    """Adds ±ε sign noise, each pixel and channel independently (the NIPS 2017 sample)."""

    name = "random-noise"

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        return sign_noise(x, eps, rng)


def sign_noise(x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    """x ± ε per pixel and channel, the sign drawn uniformly, clipped to [0, 1]."""
    signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=x.shape)
    out: ImagesF32 = np.clip(x + np.float32(eps) * signs, 0.0, 1.0).astype(np.float32)
    return out
