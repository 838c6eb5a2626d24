"""Ensemble attacks that treat the source models one by one: ``cross-iterative`` (steps alternate
between the models) and ``fatfingers`` (a loss ensemble that drops the models already fooled), each
with a targeted variant.

Each step takes the gradient of a single source model (step t uses model t mod K), so the image has
to fool every model in turn instead of the average of their logits. The loop runs at least K steps,
so that it alternates over exactly the given models: every one of them supplies a gradient (the
published 2 iterations with the zoo's three models would leave the third unused).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from advengine.attacks.base import ATTACKS
from advengine.attacks.gradient import GradientParams, IterationState, IterativeAttack
from advengine.attacks.sources import MAX_GRAPH_BATCH, Source, get_source, normalised_weights
from advengine.types import ImagesF32, Labels


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


def inclusion(logits: npt.NDArray[np.float32], y: Labels, targeted: bool) -> npt.NDArray[np.float32]:
    """δ per image for one model: 1 while the model is not yet fooled (non-targeted: it still predicts
    the label ``y``; targeted: it does not yet predict the target ``y``), else 0."""
    pred = np.argmax(logits, axis=1)
    fooled = pred == y if targeted else pred != y
    delta: npt.NDArray[np.float32] = np.logical_not(fooled).astype(np.float32)
    return delta


class FatFingers(IterativeAttack[GradientParams]):
    """The loss ensemble with dynamic inclusion: each step ascends Σᵢ wᵢ·δᵢ(x)·Jᵢ(x), where a model
    stops contributing to an image (δᵢ = 0) once it is fooled on it, so the remaining models get the
    whole step."""

    def member(self, model: str) -> Source:
        return get_source((model,), None, loss=self.head(), kappa=self.params.kappa, context=self.context)

    def warm_up(self, batch: int) -> None:
        for model in self.models:
            self.member(model).warm_up(max(1, min(batch, MAX_GRAPH_BATCH)))

    def gradient(self, src: Source, x: ImagesF32, y: Labels, rng: np.random.Generator) -> ImagesF32:
        weights = normalised_weights(self.models, self.params.weights)
        total = np.zeros_like(x)
        for model, w in zip(self.models, weights, strict=True):
            logits, g = self.member(model).grad(x, y)
            delta = inclusion(logits, y, self.track == "targeted")
            total += np.float32(w) * delta[:, None, None, None] * g
        return total


FATFINGERS_DOC = """FatFingers (Kurakin et al. 2018, the team's section, eqs. 21-22): I-FGSM on the loss
    ensemble Σᵢ wᵢ·δᵢ·Jᵢ, where δᵢ = 1 while model i is not yet fooled on the image (eq. 22, per image,
    re-evaluated every step) and 0 after, so fooled models stop pulling; 10 sign steps of ε/10.
    Differences: the team's ImageNet models are replaced by the zoo (efficientnet-lite0/1/2) with equal
    weights; the label is the ensemble's clean prediction (targeted: the target class)."""

ATTACKS.register_preset("fatfingers", FatFingers, doc=FATFINGERS_DOC)
ATTACKS.register_preset(
    "fatfingers-targeted",
    FatFingers,
    doc="The targeted form of ``fatfingers``: δᵢ = 0 once model i predicts the target. " + FATFINGERS_DOC,
    track="targeted",
)
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


__all__ = ["CrossIterative", "FatFingers", "inclusion"]
