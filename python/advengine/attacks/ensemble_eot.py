"""``ensemble-eot``: Sangxia Huang's NIPS17 attack (2nd place non-targeted), an ensemble whose
gradients are averaged over random affine augmentations (expectation over transformation), with a
three-phase schedule of sign steps and Gaussian noise before each step.

EOT is host-side: each draw warps the batch with a random affine map (identity + truncated-normal(σ)
on the six entries, bilinear, zero fill, as ``tf.contrib.image.transform``), runs the compiled
gradient graph on it and maps the gradient back through the warp's exact adjoint
(:mod:`advengine.attacks.augment`). The published run fuses at gradient level over per-phase model
lists; here every phase uses the one source ensemble with loss fusion (Σ of per-model CE of its
softmax), which is the same sum of gradients with one shared draw per model per sample.

Schedule in units of E = ε (pixels): phase 1: steps E, E, .5E, .5E, .5E with noise .2E; phase 2: 4
steps of .5E with noise .2E; phase 3: 2 steps of .2E with noise .1E, then 8 steps of .1E with noise
falling linearly from .1E to .04E (19 steps).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from advengine.attacks.augment import random_affine
from advengine.attacks.base import ATTACKS
from advengine.attacks.gradient import GradientParams, IterationState, IterativeAttack
from advengine.attacks.sources import IMAGE_SIDE, Source, get_source


def sangxia_schedule() -> list[tuple[float, float]]:
    """(step, noise std) per step, both as multiples of ε."""
    out = [(1.0, 0.2), (1.0, 0.2), (0.5, 0.2), (0.5, 0.2), (0.5, 0.2)]
    out += [(0.5, 0.2)] * 4
    out += [(0.2, 0.1)] * 2
    out += [(0.1, float(n)) for n in np.linspace(0.1, 0.04, 8)]
    return out


class EnsembleEotParams(GradientParams):
    #: Scale σ of the random affine augmentation (0.02 published; 0 disables EOT).
    aug_scale: Annotated[float, Field(ge=0)] = 0.02
    #: Augmented gradient draws summed per step.
    samples: Annotated[int, Field(ge=1, le=10_000)] = 1
    #: Multiply the noise of the schedule (0 disables the noise).
    noise_scale: Annotated[float, Field(ge=0)] = 1.0


class EnsembleEot(IterativeAttack[EnsembleEotParams]):
    """Sangxia Huang's EOT ensemble: 19 sign steps over 3 phases, random affine EOT, noise."""

    params_type = EnsembleEotParams

    def source(self, eps_px: int) -> Source:
        # Fusion at loss level: Σ wᵢ CE(softmax(zᵢ)), i.e. the sum of the members' gradients.
        return get_source(
            self.models, self.params.weights, fusion="loss", loss=self.head(), context=self.context
        )

    def iterate(self, state: IterationState) -> None:
        """The published three-phase schedule replaces ``iterations`` and ``step``."""
        p, eps, rng = self.params, state.eps, state.rng
        for step_mul, noise_mul in sangxia_schedule():
            noise = noise_mul * p.noise_scale * eps
            if noise > 0:
                state.move(rng.normal(0.0, noise, size=state.x.shape).astype(np.float32))
            total = np.zeros_like(state.x)
            for _ in range(p.samples):
                if p.aug_scale > 0:
                    warp = random_affine(len(state.x), IMAGE_SIDE, p.aug_scale, rng)
                    _, g = state.source.grad(warp.apply(state.x), state.y)
                    total += warp.adjoint(g, state.x.shape)
                else:
                    total += state.source.grad(state.x, state.y)[1]
            state.move(np.float32(step_mul * eps) * np.sign(total).astype(np.float32))


ATTACKS.register_preset("ensemble-eot", EnsembleEot)


__all__ = ["EnsembleEot", "EnsembleEotParams", "sangxia_schedule"]
