"""``cross-iterative`` and ``cross-iterative-targeted``: iterative FGSM whose steps alternate
between the source models.

Each step takes the gradient of a single source model (step t uses model t mod K), so the image has
to fool every model in turn instead of the average of their logits. The loop runs at least K steps,
so that it alternates over exactly the given models: every one of them supplies a gradient (the
published 2 iterations with the zoo's three models would leave the third unused).
"""

from __future__ import annotations

import numpy as np

from advengine.attacks.base import ATTACKS
from advengine.attacks.gradient import GradientParams, IterationState, IterativeAttack
from advengine.attacks.sources import get_source


class CrossIterative(IterativeAttack[GradientParams]):
    """I-FGSM alternating source models step by step (labels: the ensemble's clean prediction, or the
    target class)."""

    def schedule(self, eps: float) -> tuple[int, float]:
        """At least one step per source model; the step is set for the steps actually taken."""
        p = self.params
        iterations = max(p.iterations, len(self.models))
        step = p.step / 255.0 if p.step is not None else p.step_scale * eps / iterations
        return iterations, step

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


ATTACKS.register_preset(
    "cross-iterative",
    CrossIterative,
    doc="""CrossIterative (Kurakin et al. 2018, the non-targeted entries' section): I-FGSM whose step t
    takes the gradient of source model t mod K alone; 2 iterations with step_scale 2 (each step may use
    the whole budget), raised to K steps so that every given model is used. Differences: the team's
    Inception-family models are replaced by the zoo (efficientnet-lite0/1/2); with the three zoo
    models the loop runs 3 steps of 2ε/3.""",
    iterations=2,
    step_scale=2.0,
)
ATTACKS.register_preset(
    "cross-iterative-targeted",
    CrossIterative,
    doc="""CrossIterative_target_20 (Kurakin et al. 2018, the targeted entries' section): 20 steps down
    the CE of the target class, step t on source model t mod K alone, step ε/20·step_scale (2).
    Differences: the zoo models replace the team's; no label smoothing or aux head.""",
    track="targeted",
    iterations=20,
    step_scale=2.0,
)


__all__ = ["CrossIterative"]
