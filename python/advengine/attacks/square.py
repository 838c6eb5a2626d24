"""Square Attack, L∞ (Andriushchenko, Croce, Flammarion & Hein 2020): score-based, no gradients.

As the authors' ``autoattack/square.py``: start from vertical stripes of ±ε; at each query draw one
square (side s = round(√(p·h·w)), one random position for the batch) and set it to ±2ε per channel on
top of the best point, projected onto the ε-box ∩ [0, 1]; keep it where the margin loss
z_y − max_{j≠y} z_j fell. The square's share p starts at ``p_init`` and halves at the published
fractions of the query budget (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10 000). An image
stops being queried once it is misclassified; ``queries`` bounds the queries per image.

It only reads scores, so a defense that masks gradients does not stop it: on a pipeline (BPDA is not
needed here) it queries the defended scores, the transforms applied forward (and a random draw per
query for a randomised defense). Targeted runs use the cross-entropy of the target, as the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from advengine.attacks.adaptive import PipelineFields, fields_source
from advengine.attacks.base import ATTACKS, Attack
from advengine.params import Params
from advengine.types import ImagesF32, Labels

F32 = npt.NDArray[np.float32]
#: Logits [n, K] of a batch.
ScoreFn = Callable[[F32], F32]
#: Upper bound of the query budget per image (a bound that needs no machine, as ``iterations``').
MAX_QUERIES = 1_000_000
#: Fractions (of 10 000) of the budget after which p halves, from the reference's ``p_selection``.
HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


class SquareParams(PipelineFields):
    #: Query budget per image.
    queries: Annotated[int, Field(ge=1, le=MAX_QUERIES)] = 5000
    #: Initial share of the image a square covers (the paper's value for ImageNet L∞).
    p_init: Annotated[float, Field(gt=0, le=1)] = 0.05


def p_selection(p_init: float, it: int, budget: int) -> float:
    """The square's share at query ``it`` of ``budget`` (the schedule is given for 10 000)."""
    scaled = int(it / budget * 10000)
    return float(p_init / 2 ** sum(scaled > h for h in HALVINGS))


def margin_loss(z: F32, y: Labels, target: Labels | None) -> tuple[F32, F32]:
    """(margin, loss to minimise): margin = z_y − max_{j≠y} z_j (< 0: fooled; targeted: the margin of
    the target, negated); loss = margin, or the target's cross-entropy."""
    rows = np.arange(len(z))
    label = y if target is None else target
    masked = z.copy()
    masked[rows, label] = -np.inf
    margin = z[rows, label] - masked.max(axis=1)
    if target is None:
        return margin.astype(np.float32), margin.astype(np.float32)
    m = z.max(axis=1)
    ce = -(z[rows, target] - m - np.log(np.exp(z - m[:, None]).sum(axis=1)))
    return (-margin).astype(np.float32), ce.astype(np.float32)


class SquareLinf(Attack[SquareParams]):
    """Square Attack L∞ on the models or a defense pipeline."""

    params_type: ClassVar[type[Params]] = SquareParams
    needs_models: ClassVar[bool] = True

    def default_models(self) -> tuple[str, ...]:
        return ("efficientnet-lite0",)

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        if len(x) == 0 or eps == 0:
            return x
        src = fields_source(self, self.params, rng)
        target = None if target_classes is None else (target_classes - 1).astype(np.int64)
        y = src.predict_idx(x)
        return square_linf(src.logits, x, y, target, eps, self.params.queries, self.params.p_init, rng)


def square_linf(
    scores: ScoreFn,
    x0: F32,
    y: Labels,
    target: Labels | None,
    eps: float,
    queries: int,
    p_init: float,
    rng: np.random.Generator,
) -> F32:
    """The attack loop on a score function (logits of a batch)."""
    n, c, h, w = x0.shape
    stripes = rng.choice([-eps, eps], size=(n, c, 1, w)).astype(np.float32)
    best = np.clip(x0 + stripes, 0.0, 1.0).astype(np.float32)
    margin, loss = margin_loss(scores(best), y, target)
    for it in range(1, queries):
        todo = np.flatnonzero(margin > 0)
        if len(todo) == 0:
            break
        s = round(float(np.sqrt(p_selection(p_init, it, queries) * h * w)))
        s = min(max(s, 1), h - 1)
        top, left = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        cand = best[todo].copy()
        signs = rng.choice([-2.0 * eps, 2.0 * eps], size=(len(todo), c, 1, 1)).astype(np.float32)
        cand[:, :, top : top + s, left : left + s] += signs
        base = x0[todo]
        cand = np.clip(np.clip(cand, base - eps, base + eps), 0.0, 1.0)
        m_new, l_new = margin_loss(scores(cand), y[todo], None if target is None else target[todo])
        better = (l_new < loss[todo]) | (m_new <= 0)
        idx = todo[better]
        best[idx], margin[idx], loss[idx] = cand[better], m_new[better], l_new[better]
    out: F32 = best
    return out


ATTACKS.register_preset(
    "square-linf",
    SquareLinf,
    doc="Square Attack L∞ (Andriushchenko et al. 2020): score-based random squares, 5000 queries per image.",
)


__all__ = ["SquareLinf", "SquareParams", "margin_loss", "p_selection", "square_linf"]
