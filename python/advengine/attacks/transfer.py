"""``cross-iterative``: iterative FGSM whose steps alternate between the source models.

Each step takes the gradient of a single source model (step t uses model t mod K), so the image has
to fool every model in turn instead of the average of their logits. Reported best at 2 iterations for
non-targeted attacks; the step is ε/iterations·step_scale with step_scale = 2 by default, so each of
the two steps can use the whole budget.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from advengine.attacks.gradient import GradientParams, IterativeAttack, project
from advengine.attacks.registry import register
from advengine.attacks.sources import Source, get_source
from advengine.types import ImagesF32, Labels


@dataclasses.dataclass(frozen=True)
class CrossIterativeParams(GradientParams):
    iterations: int = 2
    step_scale: float = 2.0


@register
class CrossIterative(IterativeAttack):
    """I-FGSM alternating source models step by step (labels: the ensemble's clean prediction)."""

    name = "cross-iterative"
    params_type = CrossIterativeParams

    def iterate(
        self,
        src: Source,
        x0: ImagesF32,
        y: Labels,
        eps: float,
        iterations: int,
        step: float,
        rng: np.random.Generator,
    ) -> ImagesF32:
        x = x0.copy()
        for t in range(iterations):
            member = get_source(
                (self.models[t % len(self.models)],), None, loss=self.head(), kappa=self.gp.kappa
            )
            g = self.gradient(member, x, y, rng)
            x = project(x + np.float32(step) * np.sign(g).astype(np.float32), x0, eps)
        return x


__all__ = ["CrossIterative", "CrossIterativeParams"]
