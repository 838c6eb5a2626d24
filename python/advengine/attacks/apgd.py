"""APGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks"), L∞, as in the authors' ``autoattack/autopgd_base.py``:

* start at x0 + ε·t/‖t‖∞ with t uniform in [−1, 1]; step size η = 2ε;
* step: z = P(x + η·sign(g)); x ← P(x + α(z − x) + (1 − α)(x − x_prev)), α = 1 at the first step,
  0.75 (the momentum) after;
* checkpoints: the first after ⌈0.22·N⌉ iterations, each next window shorter by 0.03·N, at least
  0.06·N; at a checkpoint an image halves η and restarts from its best point if its loss rose in at
  most ρ = 0.75 of the window's steps, or if η was not halved last time and the best loss has not
  improved since;
* ``restarts`` runs, each on the images not yet fooled.

Losses: ``ce`` (cross-entropy of the label), ``dlr`` (−(z_y − max_{j≠y} z_j)/(z_π1 − z_π3)),
``dlr-targeted`` (APGD-T: −(z_y − z_t)/(z_π1 − (z_π3 + z_π4)/2), over the ``targets`` most likely
other classes in turn). DLR's gradient is the VJP of the logits with dDLR/dZ (the ``seed`` graph).
The source is the models or a whole defense pipeline (BPDA/EOT, :mod:`advengine.attacks.adaptive`).

One deviation: an image never fooled returns its highest-loss point, not the clean image (the
reference returns the clean one), so a defense that the source cannot read exactly (a randomised
one) still faces the strongest point found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from advengine.attacks.adaptive import PipelineFields, fields_source
from advengine.attacks.base import ATTACKS, Attack
from advengine.attacks.gradient import MAX_ITERATIONS, Iterations, nothing_to_do, project
from advengine.attacks.sources import Source
from advengine.params import Params
from advengine.types import ImagesF32, Labels

F32 = npt.NDArray[np.float32]
Loss = Literal["ce", "dlr", "dlr-targeted"]
DLR_TINY = 1e-12


class ApgdParams(PipelineFields):
    """APGD's knobs (the published defaults) and the pipeline attacked."""

    #: Iterations per run (N).
    iterations: Iterations = 100
    #: Runs from fresh random starts, each on the images not yet fooled.
    restarts: Annotated[int, Field(ge=1, le=MAX_ITERATIONS)] = 1
    #: Loss: cross-entropy, DLR, or targeted DLR (APGD-T).
    apgd_loss: Loss = "ce"
    #: Momentum α of the update.
    momentum: Annotated[float, Field(ge=0, le=1)] = 0.75
    #: ρ: the share of rising steps in a window below which the step size halves.
    rho: Annotated[float, Field(gt=0, le=1)] = 0.75
    #: APGD-T: the most likely other classes attacked as targets, in turn.
    targets: Annotated[int, Field(ge=1, le=999)] = 9


def dlr(z: F32, y: Labels) -> tuple[F32, F32]:
    """Per-sample DLR loss (to ascend) and dDLR/dZ."""
    n = len(z)
    rows = np.arange(n)
    order = np.argsort(z, axis=1)
    top1, top3 = order[:, -1], order[:, -3]
    masked = z.copy()
    masked[rows, y] = -np.inf
    other = np.argmax(masked, axis=1)
    margin = z[rows, y] - z[rows, other]
    scale = z[rows, top1] - z[rows, top3] + DLR_TINY
    loss = -margin / scale
    dz = np.zeros_like(z)
    np.add.at(dz, (rows, y), -1.0 / scale)
    np.add.at(dz, (rows, other), 1.0 / scale)
    np.add.at(dz, (rows, top1), margin / scale**2)
    np.add.at(dz, (rows, top3), -margin / scale**2)
    return loss.astype(np.float32), dz.astype(np.float32)


def dlr_targeted(z: F32, y: Labels, t: Labels) -> tuple[F32, F32]:
    """Per-sample targeted DLR loss (to ascend) and its dZ."""
    rows = np.arange(len(z))
    order = np.argsort(z, axis=1)
    top1, top3, top4 = order[:, -1], order[:, -3], order[:, -4]
    margin = z[rows, y] - z[rows, t]
    scale = z[rows, top1] - 0.5 * (z[rows, top3] + z[rows, top4]) + DLR_TINY
    loss = -margin / scale
    dz = np.zeros_like(z)
    np.add.at(dz, (rows, y), -1.0 / scale)
    np.add.at(dz, (rows, t), 1.0 / scale)
    np.add.at(dz, (rows, top1), margin / scale**2)
    np.add.at(dz, (rows, top3), -0.5 * margin / scale**2)
    np.add.at(dz, (rows, top4), -0.5 * margin / scale**2)
    return loss.astype(np.float32), dz.astype(np.float32)


def cross_entropy(z: F32, y: Labels) -> F32:
    m = z.max(axis=1, keepdims=True)
    log_p = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    out: F32 = -log_p[np.arange(len(z)), y].astype(np.float32)
    return out


#: (logits, per-sample loss, d loss/dx) at x.
Oracle = Callable[[F32], tuple[F32, F32, F32]]


def checkpoints(n: int) -> tuple[int, int, int]:
    """(first window, decrement, minimum window) for N iterations, as the reference."""
    return max(int(0.22 * n), 1), max(int(0.03 * n), 1), max(int(0.06 * n), 1)


def apgd_run(
    oracle: Oracle,
    x0: F32,
    y: Labels,
    eps: float,
    iterations: int,
    rng: np.random.Generator,
    *,
    momentum: float = 0.75,
    rho: float = 0.75,
) -> tuple[F32, npt.NDArray[np.bool_], F32]:
    """One APGD run: (best point per image — the first fooling point where one was found, else the
    highest-loss point —, fooled flags, best loss)."""
    n = len(x0)
    t = rng.uniform(-1.0, 1.0, size=x0.shape).astype(np.float32)
    t /= np.abs(t).reshape(n, -1).max(axis=1).reshape(-1, 1, 1, 1) + 1e-12
    x = np.clip(x0 + eps * t, 0.0, 1.0).astype(np.float32)
    z, loss, g = oracle(x)
    fooled = np.argmax(z, axis=1) != y
    x_adv = x.copy()
    x_best, g_best, loss_best = x.copy(), g.copy(), loss.copy()
    loss_steps = np.zeros((iterations, n), np.float32)
    step = np.full((n, 1, 1, 1), 2.0 * eps, np.float32)
    window, decrement, minimum = checkpoints(iterations)
    x_prev = x.copy()
    since_check = 0
    best_at_check = loss_best.copy()
    reduced_at_check = np.ones(n, bool)
    for i in range(iterations):
        a = momentum if i > 0 else 1.0
        dx = x - x_prev
        x_prev = x
        z1 = project(x + step * np.sign(g), x0, eps)
        x = project(x + (z1 - x) * a + dx * (1 - a), x0, eps)
        z, loss, g = oracle(x)
        now = np.argmax(z, axis=1) != y
        newly = now & ~fooled
        x_adv[newly] = x[newly]
        fooled |= now
        loss_steps[i] = loss
        better = loss > loss_best
        x_best[better], g_best[better], loss_best[better] = x[better], g[better], loss[better]
        since_check += 1
        if since_check == window:
            rising = np.zeros(n)
            for j in range(window):
                if i - j - 1 >= 0:
                    rising += loss_steps[i - j] > loss_steps[i - j - 1]
            halve = (rising <= window * rho) | (~reduced_at_check & (best_at_check >= loss_best))
            reduced_at_check = halve
            best_at_check = loss_best.copy()
            step[halve] /= 2.0
            x[halve], g[halve] = x_best[halve], g_best[halve]
            since_check = 0
            window = max(window - decrement, minimum)
    out = np.where(fooled.reshape(-1, 1, 1, 1), x_adv, x_best).astype(np.float32)
    return out, fooled, loss_best


class Apgd(Attack[ApgdParams]):
    """APGD-CE / APGD-DLR / APGD-T on the models or a defense pipeline."""

    params_type: ClassVar[type[Params]] = ApgdParams
    needs_models: ClassVar[bool] = True

    def default_models(self) -> tuple[str, ...]:
        return ("efficientnet-lite0",)

    def oracle(self, src: Source, y: Labels, target: Labels | None) -> Oracle:
        loss = self.params.apgd_loss

        def ce(x: F32) -> tuple[F32, F32, F32]:
            z, g = src.grad(x, y)
            return z, cross_entropy(z, y), g

        def seeded(x: F32) -> tuple[F32, F32, F32]:
            losses: list[F32] = []

            def dz(z: F32) -> F32:
                value, d = dlr(z, y) if target is None else dlr_targeted(z, y, target)
                losses.append(value)
                return d

            z, g = src.loss_grad(x, dz)
            # With EOT the loss is the mean over the draws, as the gradient.
            return z, np.mean(losses, axis=0).astype(np.float32), g

        return ce if loss == "ce" else seeded

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        if nothing_to_do(self.name, x, eps):
            return x
        p = self.params
        src = fields_source(self, p, rng, "ce" if p.apgd_loss == "ce" else "seed")
        z0 = src.logits(x)
        y = np.asarray(np.argmax(z0, axis=1), np.int64)
        targets: list[Labels | None] = [None]
        if p.apgd_loss == "dlr-targeted":
            order = np.argsort(z0, axis=1)
            targets = [order[:, -(k + 2)].astype(np.int64) for k in range(min(p.targets, z0.shape[1] - 1))]
        out = x.copy()
        fooled = np.zeros(len(x), bool)
        best = np.full(len(x), -np.inf, np.float32)
        for target in targets:
            for _ in range(p.restarts):
                todo = np.flatnonzero(~fooled)
                if len(todo) == 0:
                    return out
                t = None if target is None else target[todo]
                adv, ok, loss = apgd_run(
                    self.oracle(src, y[todo], t),
                    x[todo],
                    y[todo],
                    eps,
                    p.iterations,
                    rng,
                    momentum=p.momentum,
                    rho=p.rho,
                )
                # Keep fooling points, else the highest loss seen (losses of one kind only compare).
                keep = ok | (loss > best[todo]) if target is None else ok | ~np.isfinite(best[todo])
                out[todo[keep]] = adv[keep]
                best[todo[keep]] = loss[keep]
                fooled[todo] |= ok
        return out


ATTACKS.register_preset(
    "apgd-ce",
    Apgd,
    doc="APGD-CE (Croce & Hein 2020): step-size schedule with checkpoints, momentum 0.75, 100 iterations.",
    apgd_loss="ce",
)
ATTACKS.register_preset(
    "apgd-dlr",
    Apgd,
    doc="APGD-DLR (Croce & Hein 2020): APGD on the difference-of-logits-ratio loss.",
    apgd_loss="dlr",
)
ATTACKS.register_preset(
    "apgd-t",
    Apgd,
    doc="APGD-T (Croce & Hein 2020): targeted DLR over the 9 most likely other classes in turn.",
    apgd_loss="dlr-targeted",
)


__all__ = ["Apgd", "ApgdParams", "apgd_run", "checkpoints", "cross_entropy", "dlr", "dlr_targeted"]
