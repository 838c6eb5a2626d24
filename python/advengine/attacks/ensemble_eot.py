"""``ensemble-eot`` and ``ensemble-eot-targeted``: Sangxia Huang's NIPS 2017 attacks (2nd place in
both attack tracks; Kurakin et al. 2018, the team's section), sign steps on a sum of per-model
gradients taken under random projective warps (expectation over transformation), with noise before
each step.

The published plan (the team's ``fgsm_par.py``) lists, per step, the models whose gradients are summed
and how many fresh augmented draws each contributes ("a few samples per step": 2 to 4), plus the
step and the noise. Each draw warps every image with its own θ ∈ ℝ⁸ (``tf.contrib.image.transform``:
identity + truncated-normal(σ = 0.02) on the six affine entries, bilinear, zero fill), independently
per model and per draw; the gradient of that model at the warped batch is mapped back through the
warp's exact adjoint (:mod:`advengine.attacks.augment`). One compiled graph per model serves every
draw.

Non-targeted (E = ε, noise in pixels before the step): phase 1, five steps E, E, .5E, .5E, .5E with
noise .2E; phase 2, four steps of .5E with noise .2E; phase 3, two steps of .2E with noise .1E, two
of .1E with noise .1E, then six of .1E with noise .04E (19 steps). Targeted: 43 steps of 1.8, .9,
.45 and .18 pixels (10, 6, 7 and 20 steps), no noise, no augmentation, every step on ens-adv-IRv2
and some also on adv-v3 / v3.

Differences from the report and the team's code:

- models: the team's Keras/TF-Slim ImageNet models are mapped onto the zoo by family: Inception-v3
  and Xception → efficientnet-lite0, adv-Inception-v3 → lite1, Inception-ResNet-v2, its ens-adv
  version, ResNet-50 and ResNet-101 → lite2; a step's draws keep their count (a pair that maps onto
  one zoo model gives it both pairs' draws). With other ``--models``, a step uses the given models
  its originals map onto, or every given model when none does;
- the pseudo-label of the non-targeted attack is the source ensemble's (mean logits of the given
  models) clean prediction, not the mean softmax of three of the team's models;
- the warp is fully projective (θ ∈ ℝ⁸) but, as in the team's code, the two perspective entries are
  drawn with scale ``perspective`` = 0 unless set;
- outputs are rounded to uint8, not truncated.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from advengine.attacks.augment import projective_warp, random_theta
from advengine.attacks.base import ATTACKS
from advengine.attacks.gradient import GradientParams, IterationState, IterativeAttack
from advengine.attacks.sources import IMAGE_SIDE, MAX_GRAPH_BATCH, Source, get_source
from advengine.types import ImagesF32

#: The team's models by letter, mapped onto the zoo by family.
FAMILY = {
    "V": "efficientnet-lite0",  # Inception-v3
    "X": "efficientnet-lite0",  # Xception (an Inception-v3 descendant)
    "A": "efficientnet-lite1",  # adversarially trained Inception-v3
    "E": "efficientnet-lite2",  # ens-adv Inception-ResNet-v2
    "I": "efficientnet-lite2",  # Inception-ResNet-v2
    "R": "efficientnet-lite2",  # ResNet-50
    "T": "efficientnet-lite2",  # ResNet-101
}

#: One step of a plan: ((model letter, draws), ...), step and noise (multiples of ε, or pixels for
#: the targeted plan's step).
Step = tuple[tuple[tuple[str, int], ...], float, float]


def _steps(models: str, draws: int, step: float, noise: float, times: int = 1) -> list[Step]:
    return [(tuple((m, draws) for m in models), step, noise)] * times


def nontargeted_plan() -> list[Step]:
    """The team's non-targeted plan (19 steps; step and noise in units of ε)."""
    return [
        *_steps("RR", 2, 1.0, 0.2),
        *_steps("AE", 2, 1.0, 0.2),
        *_steps("AE", 2, 0.5, 0.2, 3),
        *_steps("VI", 2, 0.5, 0.2),
        *_steps("VX", 2, 0.5, 0.2),
        *_steps("IX", 2, 0.5, 0.2),
        *_steps("VX", 2, 0.5, 0.2),
        *_steps("ET", 2, 0.2, 0.1),
        *_steps("AT", 2, 0.2, 0.1),
        *_steps("AE", 1, 0.1, 0.1, 2),
        *_steps("AE", 1, 0.1, 0.04),
        *_steps("EE", 1, 0.1, 0.04),
        *_steps("ET", 1, 0.1, 0.04),
        *_steps("EE", 1, 0.1, 0.04, 2),
        *_steps("AE", 2, 0.1, 0.04),
    ]


#: The targeted plan's model sets, step by step, in four groups of step 1.8, .9, .45, .18 pixels.
_TARGETED = (
    "EAV EAV EAV E EAV EA E EA EA EA",
    "EA E E EV EA E",
    "EAV EAV E E E EAV EAV",
    "E EV E E EV EV E EV EA E EV EV EA EA E E EV EA EV EV",
)


def targeted_plan() -> list[Step]:
    """The team's targeted plan (43 steps; steps in pixels, no noise)."""
    out: list[Step] = []
    for group, step in zip(_TARGETED, (1.8, 0.9, 0.45, 0.18), strict=True):
        out += [_steps(models, 1, step, 0.0)[0] for models in group.split()]
    return out


def sangxia_schedule() -> list[tuple[float, float]]:
    """(step, noise) per step of the non-targeted plan, both as multiples of ε."""
    return [(step, noise) for _, step, noise in nontargeted_plan()]


class EnsembleEotParams(GradientParams):
    #: Scale σ of the six affine entries of the random warp (0.02 published; 0 disables EOT).
    aug_scale: Annotated[float, Field(ge=0)] = 0.02
    #: Scale of the two perspective entries c0, c1 of θ (0 in the team's code).
    perspective: Annotated[float, Field(ge=0)] = 0.0
    #: Multiplies the plan's draws per model and step.
    samples: Annotated[int, Field(ge=1, le=10_000)] = 1
    #: Multiplies the plan's noise (0 disables it).
    noise_scale: Annotated[float, Field(ge=0)] = 1.0


class EnsembleEot(IterativeAttack[EnsembleEotParams]):
    """Sangxia Huang's plan: per step, the sum of fresh per-model warped gradients, then a sign step."""

    params_type = EnsembleEotParams

    def plan(self) -> list[Step]:
        return targeted_plan() if self.track == "targeted" else nontargeted_plan()

    def members(self, step: Step) -> list[tuple[str, int]]:
        """The given models a step uses, with their draws (see the module's differences)."""
        draws: dict[str, int] = {}
        for letter, count in step[0]:
            model = FAMILY[letter]
            if model in self.models:
                draws[model] = draws.get(model, 0) + count
        if not draws:
            draws = dict.fromkeys(self.models, 1)
        return [(m, n * self.params.samples) for m, n in draws.items()]

    def member_source(self, model: str) -> Source:
        return get_source((model,), None, loss=self.head(), context=self.context)

    def warm_up(self, batch: int) -> None:
        for model in self.models:
            self.member_source(model).warm_up(max(1, min(batch, MAX_GRAPH_BATCH)))

    def iterate(self, state: IterationState) -> None:
        """The published plan replaces ``iterations`` and ``step``."""
        p, eps, rng = self.params, state.eps, state.rng
        targeted = self.track == "targeted"
        for t, step in enumerate(self.plan()):
            state.t = t
            _, step_mul, noise_mul = step
            noise = noise_mul * p.noise_scale * eps
            if noise > 0:
                state.move(rng.normal(0.0, noise, size=state.x.shape).astype(np.float32))
            total = np.zeros_like(state.x)
            for model, draws in self.members(step):
                src = self.member_source(model)
                for _ in range(draws):
                    total += self.warped_gradient(src, state, rng)
            size = step_mul / 255.0 if targeted else step_mul * eps
            state.move(np.float32(size) * np.sign(total).astype(np.float32))

    def warped_gradient(self, src: Source, state: IterationState, rng: np.random.Generator) -> ImagesF32:
        """One draw: the model's gradient at the batch under its own random θ per image, pulled back
        through the warp's adjoint."""
        p = self.params
        if p.aug_scale == 0 and p.perspective == 0:
            return src.grad(state.x, state.y)[1]
        warp = projective_warp(random_theta(len(state.x), p.aug_scale, rng, p.perspective), IMAGE_SIDE)
        _, g = src.grad(warp.apply(state.x), state.y)
        return warp.adjoint(g, state.x.shape)


ATTACKS.register_preset(
    "ensemble-eot",
    EnsembleEot,
    doc="""Sangxia Huang's non-targeted attack (Kurakin et al. 2018, the team's section): the team's
    19-step plan of sign steps on sums of per-model gradients under random projective warps (θ ∈ ℝ⁸,
    independent per model and draw, 2-4 draws per step), noise .2E/.1E/.04E before each step.
    Differences: models mapped onto the zoo by family; pseudo-label from the mean logits of the given
    models; perspective entries of θ drawn at scale 0 unless set (as the team's code); see the module
    docstring of advengine.attacks.ensemble_eot.""",
)
ATTACKS.register_preset(
    "ensemble-eot-targeted",
    EnsembleEot,
    doc="""Sangxia Huang's targeted attack (Kurakin et al. 2018, the team's section): the 43-step
    targeted plan (1.8, .9, .45, .18 px) down the CE of the target on per-step model sets, no noise,
    no augmentation. Differences as ``ensemble-eot`` (models mapped onto the zoo by family).""",
    track="targeted",
    aug_scale=0.0,
    noise_scale=0.0,
)


__all__ = [
    "FAMILY",
    "EnsembleEot",
    "EnsembleEotParams",
    "nontargeted_plan",
    "sangxia_schedule",
    "targeted_plan",
]
