"""``cross-iterative``: iterative FGSM whose steps alternate between the source models.

Each step takes the gradient of a single source model (step t uses model t mod K), so the image has
to fool every model in turn instead of the average of their logits. Reported best at 2 iterations for
non-targeted attacks; the step is ε/iterations·step_scale with step_scale = 2 by default, so each of
the two steps can use the whole budget.
"""

from __future__ import annotations

import numpy as np

from advengine.attacks.base import ATTACKS
from advengine.attacks.gradient import GradientParams, IterationState, IterativeAttack
from advengine.attacks.sources import get_source


class CrossIterative(IterativeAttack[GradientParams]):
    """I-FGSM alternating source models step by step (labels: the ensemble's clean prediction)."""

    def step(self, state: IterationState) -> None:
        """A sign step on the gradient of one member: step t uses model t mod K."""
        member = get_source(
            (self.models[state.t % len(self.models)],),
            None,
            loss=self.head(),
            kappa=self.params.kappa,
            context=self.context,
        )
        g = self.gradient(member, state.x, state.y, state.rng)
        state.move(np.float32(state.step) * np.sign(g).astype(np.float32))


ATTACKS.register_preset("cross-iterative", CrossIterative, iterations=2, step_scale=2.0)


__all__ = ["CrossIterative"]
