"""The NIPS 2017 sample baselines that need no model: ``noop`` and ``random-noise``, both presets of
:class:`SignNoise` (±amplitude·ε per pixel; amplitude 0 is the identity).

Unlike the original samples, nothing is min-max rescaled on save (scipy.misc.imsave did that), so
``noop`` really is the identity.
"""

from __future__ import annotations

import numpy as np

from advengine.attacks.base import ATTACKS, Attack
from advengine.params import Params
from advengine.types import ImagesF32, Labels


def sign_noise(x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    """x ± ε per pixel and channel, the sign drawn uniformly, clipped to [0, 1]."""
    signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=x.shape)
    out: ImagesF32 = np.clip(x + np.float32(eps) * signs, 0.0, 1.0).astype(np.float32)
    return out


class SignNoise(Attack[Params]):
    """±amplitude·ε sign noise, each pixel and channel independently."""

    settings = Attack.settings | {"amplitude"}
    #: The noise as a multiple of ε (0: the images unchanged, no random draws).
    amplitude: float = 1.0

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        return sign_noise(x, self.amplitude * eps, rng) if self.amplitude else x


ATTACKS.register_preset("noop", SignNoise, doc="Returns the clean images unchanged.", amplitude=0.0)
ATTACKS.register_preset(
    "random-noise",
    SignNoise,
    doc="Adds ±ε sign noise, each pixel and channel independently (the NIPS 2017 sample).",
)


__all__ = ["SignNoise", "sign_noise"]
