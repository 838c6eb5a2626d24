"""The iterative gradient attacks: FGSM, I-FGSM (BIM), PGD, MI-FGSM, DI-FGSM, TI-FGSM, C&W-L∞ PGD and
the targeted-track baselines.

They share one loop (:class:`IterativeAttack`); each registered name is a subclass whose Params
dataclass carries the published defaults. Every step asks the source ensemble (a gradient graph
compiled by :mod:`advengine.graph`, logits fused with ``weights``) for d loss/dx at the current image,
optionally through a random input-diversity warp (its exact adjoint maps the gradient back) and TI
smoothing, then moves by the normalised direction and projects onto the ε-box ∩ [0, 1]:

* ``sign``: x ← x + α·sign(g) (FGSM, I-FGSM, PGD);
* ``mean-abs`` (MI-FGSM): m ← μ·m + g/mean|g| per image, x ← x + α·sign(m);
* ``std-round`` (TSAIL targeted): n ← g/std(g), n ← μ·m + n, m ← n/std(n), x ← x + α·clip(round(m), ±2).

Losses are ascended: ``ce`` on the label for non-targeted attacks, ``ce-targeted`` (−CE of the
target) for targeted ones, ``cw``/``cw-targeted`` for the C&W margin. Non-targeted labels are the
source ensemble's own prediction on the clean image (as the NIPS17 FGSM baseline and TSAIL do).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np

from advengine.attacks.augment import random_diversity, smooth_gradient
from advengine.attacks.base import Attack
from advengine.attacks.registry import register
from advengine.attacks.sources import IMAGE_SIDE, Source, get_source, zoo_models
from advengine.errors import ParameterError
from advengine.params import Params
from advengine.types import ImagesF32, Labels

Direction = Literal["sign", "mean-abs", "std-round"]
TINY = 1e-30


@dataclasses.dataclass(frozen=True)
class GradientParams(Params):
    """Shared knobs of the iterative family (defaults: I-FGSM as in Dong et al.'s baseline)."""

    #: Number of gradient steps.
    iterations: int = 10
    #: Step size in pixel units (0..255); None: ``step_scale``·ε/iterations.
    step: float | None = None
    #: Step as a multiple of ε/iterations when ``step`` is None.
    step_scale: float = 1.0
    #: Momentum μ (0: none).
    mu: float = 0.0
    #: Direction of one step: sign of the gradient, MI-FGSM's mean-|g| momentum, or TSAIL's std-round.
    direction: Direction = "sign"
    #: Start from a uniform random point of the ε-box (PGD).
    random_start: bool = False
    #: Loss to ascend: cross-entropy or the C&W margin.
    loss: Literal["ce", "cw"] = "ce"
    #: C&W margin cap κ (the margin stops pushing beyond κ).
    kappa: float = 0.0
    #: Probability per step of the input-diversity warp (DI); 0 disables it.
    diversity_prob: float = 0.0
    #: DI shrinks to rnd ∈ [diversity_low·299, 299) before padding back to 299.
    diversity_low: float = 0.9
    #: TI Gaussian kernel side (0 disables translation-invariant smoothing).
    ti_size: int = 0
    #: TI kernel's nsig (the kernel spans ±nsig standard deviations).
    ti_nsig: float = 3.0
    #: Per-model logit weights of the source ensemble (None: equal weights).
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {self.iterations}")
        if self.step is not None and not 0 < self.step <= 255:
            raise ValueError(f"step must be in (0, 255] pixels, got {self.step}")
        if self.step_scale <= 0:
            raise ValueError(f"step_scale must be positive, got {self.step_scale}")
        if self.mu < 0:
            raise ValueError(f"mu must be non-negative, got {self.mu}")
        if not 0 <= self.diversity_prob <= 1:
            raise ValueError(f"diversity_prob must be in [0, 1], got {self.diversity_prob}")
        if not 0.5 <= self.diversity_low < 1:
            raise ValueError(f"diversity_low must be in [0.5, 1), got {self.diversity_low}")
        if self.ti_size < 0 or (self.ti_size and self.ti_size % 2 == 0):
            raise ValueError(f"ti_size must be 0 or an odd kernel side, got {self.ti_size}")
        if self.ti_nsig <= 0:
            raise ValueError(f"ti_nsig must be positive, got {self.ti_nsig}")


def _per_image_mean(a: ImagesF32) -> ImagesF32:
    return np.asarray(a.reshape(len(a), -1).mean(axis=1).reshape(-1, 1, 1, 1), np.float32)


def _standardise(a: ImagesF32) -> ImagesF32:
    std = a.reshape(len(a), -1).std(axis=1).reshape(-1, 1, 1, 1)
    return np.asarray(a / np.maximum(std, TINY), np.float32)


def project(x: ImagesF32, x0: ImagesF32, eps: float) -> ImagesF32:
    """Onto [x0−ε, x0+ε] ∩ [0, 1]."""
    out: ImagesF32 = np.clip(np.clip(x, x0 - eps, x0 + eps), 0.0, 1.0).astype(np.float32)
    return out


class IterativeAttack(Attack):
    """The shared loop; subclasses set ``name``, ``track``, ``params_type`` and maybe the roster."""

    params_type: ClassVar[type[Params]] = GradientParams
    needs_models: ClassVar[bool] = True

    def __init__(self, params: Params | None = None, *, models: Sequence[str] = ()) -> None:
        super().__init__(params, models=models)
        self.models = tuple(models) if models else self.default_models()
        known = set(zoo_models())
        unknown = [m for m in self.models if m not in known]
        if unknown:
            raise ParameterError(
                f"{self.name}: unknown source model {unknown[0]!r}; known models: {', '.join(sorted(known))}"
            )

    @property
    def gp(self) -> GradientParams:
        assert isinstance(self.params, GradientParams)
        return self.params

    def default_models(self) -> tuple[str, ...]:
        """The published roster limited to the zoo: by default the whole zoo."""
        return zoo_models()

    def source_weights(self, eps_px: int) -> tuple[float, ...] | None:
        return self.gp.weights

    def schedule(self, eps: float) -> tuple[int, float]:
        """(iterations, step in [0, 1] units) for budget ``eps``."""
        p = self.gp
        step = p.step / 255.0 if p.step is not None else p.step_scale * eps / p.iterations
        return p.iterations, step

    def head(self) -> str:
        base = self.gp.loss
        return f"{base}-targeted" if self.track == "targeted" else base

    def source(self, eps_px: int) -> Source:
        return get_source(self.models, self.source_weights(eps_px), loss=self.head(), kappa=self.gp.kappa)

    def labels(self, src: Source, x: ImagesF32, target_classes: Labels | None) -> Labels:
        if self.track == "targeted":
            assert target_classes is not None
            return (target_classes - 1).astype(np.int64)
        return src.predict_idx(x)

    def gradient(self, src: Source, x: ImagesF32, y: Labels, rng: np.random.Generator) -> ImagesF32:
        p = self.gp
        if p.diversity_prob > 0 and rng.random() < p.diversity_prob:
            warp = random_diversity(len(x), IMAGE_SIDE, p.diversity_low, rng)
            _, g = src.grad(warp.apply(x), y)
            g = warp.adjoint(g, x.shape)
        else:
            _, g = src.grad(x, y)
        if p.ti_size:
            g = smooth_gradient(g, p.ti_size, p.ti_nsig)
        return g

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        if len(x) == 0 or eps == 0:
            return x
        if x.shape[2:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise ParameterError(f"{self.name} works on 299×299 images, got {x.shape[2]}×{x.shape[3]}")
        eps_px = round(eps * 255)
        src = self.source(eps_px)
        y = self.labels(src, x, target_classes)
        iterations, step = self.schedule(eps)
        return self.iterate(src, x, y, eps, iterations, step, rng)

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
        p = self.gp
        x = x0.copy()
        if p.random_start:
            x = project(x + rng.uniform(-eps, eps, size=x.shape).astype(np.float32), x0, eps)
        m = np.zeros_like(x)
        for _ in range(iterations):
            g = self.gradient(src, x, y, rng)
            if p.direction == "mean-abs":
                m = np.asarray(p.mu * m + g / np.maximum(_per_image_mean(np.abs(g)), TINY), np.float32)
                d = np.sign(m)
            elif p.direction == "std-round":
                m = _standardise(p.mu * m + _standardise(g))
                d = np.clip(np.round(m), -2.0, 2.0)
            else:
                m = p.mu * m + g if p.mu else g
                d = np.sign(m)
            x = project(x + np.float32(step) * d.astype(np.float32), x0, eps)
        return x


# ---- non-targeted ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FgsmParams(GradientParams):
    iterations: int = 1


@register
class Fgsm(IterativeAttack):
    """FGSM (Goodfellow et al.; the NIPS17 sample): one ε step along sign ∇CE of the own prediction.
    Default source: efficientnet-lite0 (the sample attacked Inception-v3 alone)."""

    name = "fgsm"
    params_type = FgsmParams

    def default_models(self) -> tuple[str, ...]:
        return zoo_models()[:1]


@register
class Ifgsm(IterativeAttack):
    """I-FGSM / BIM (Kurakin et al.): 10 sign steps of ε/10 with projection (Dong et al.'s baseline)."""

    name = "ifgsm"


@dataclasses.dataclass(frozen=True)
class PgdParams(GradientParams):
    step_scale: float = 2.5
    random_start: bool = True


@register
class Pgd(IterativeAttack):
    """PGD (Madry et al.): uniform random start in the ε-box, 10 sign steps of 2.5·ε/10."""

    name = "pgd"
    params_type = PgdParams


@dataclasses.dataclass(frozen=True)
class CwLinfParams(GradientParams):
    step_scale: float = 2.5
    random_start: bool = True
    loss: Literal["ce", "cw"] = "cw"
    kappa: float = 50.0


@register
class CwLinf(IterativeAttack):
    """C&W-L∞ as PGD on the C&W margin max_{j≠y} z_j − z_y (capped at κ = 50)."""

    name = "cw-linf"
    params_type = CwLinfParams


@dataclasses.dataclass(frozen=True)
class MifgsmParams(GradientParams):
    mu: float = 1.0
    direction: Direction = "mean-abs"


#: TSAIL's logit weights (v3 + 0.25·adv-v3 + ens3 + ens4 + v4 + IRv2 + ensadv-IRv2 + R101)/7.25 mapped
#: onto the zoo by family: lite0 ← {v3, v4} = 2, lite1 ← {adv-v3, ens3, ens4} = 2.25,
#: lite2 ← {IRv2, ensadv-IRv2, R101} = 3 (see docs/attacks.md).
TSAIL_WEIGHTS = {"efficientnet-lite0": 2.0, "efficientnet-lite1": 2.25, "efficientnet-lite2": 3.0}


def roster_weights(models: Sequence[str], table: dict[str, float]) -> tuple[float, ...] | None:
    if all(m in table for m in models):
        return tuple(table[m] for m in models)
    return None


@register
class Mifgsm(IterativeAttack):
    """MI-FGSM (TSAIL, 1st place non-targeted): logit ensemble, μ = 1, 10 iterations of ε/10,
    gradient / mean|g| accumulated, sign step."""

    name = "mifgsm"
    params_type = MifgsmParams

    def source_weights(self, eps_px: int) -> tuple[float, ...] | None:
        return self.gp.weights or roster_weights(self.models, TSAIL_WEIGHTS)


@dataclasses.dataclass(frozen=True)
class DifgsmParams(GradientParams):
    #: Reference schedule: min(ε+4, 1.25ε) iterations of 1 pixel (None: that schedule).
    iterations: int = 10
    step: float | None = 1.0
    diversity_prob: float = 0.5
    #: Use the reference's ε-dependent iteration count instead of ``iterations``.
    reference_schedule: bool = True


@register
class Difgsm(IterativeAttack):
    """DI-FGSM (Xie et al.): I-FGSM whose gradient is taken, with p = 0.5 per step, at a randomly
    shrunk (nearest, [0.9·299, 299)) and zero-padded copy; 1-pixel steps, min(ε+4, 1.25ε) iterations."""

    name = "difgsm"
    params_type = DifgsmParams

    def schedule(self, eps: float) -> tuple[int, float]:
        p = self.params
        assert isinstance(p, DifgsmParams)
        iterations, step = super().schedule(eps)
        if p.reference_schedule:
            e = eps * 255
            iterations = max(1, int(min(e + 4, 1.25 * e)))
        return iterations, step


@dataclasses.dataclass(frozen=True)
class TifgsmParams(GradientParams):
    mu: float = 1.0
    direction: Direction = "mean-abs"
    ti_size: int = 15
    ti_nsig: float = 3.0


@register
class Tifgsm(IterativeAttack):
    """TI-FGSM (Dong et al. 2019) in its momentum form: the gradient is convolved with a 15×15
    Gaussian (nsig 3) before the mean-|g| normalisation; μ = 1, 10 iterations of ε/10."""

    name = "tifgsm"
    params_type = TifgsmParams


# ---- targeted -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StepTargetParams(GradientParams):
    iterations: int = 1


@register
class StepTargetClass(IterativeAttack):
    """The NIPS17 ``step_target_class`` baseline: one ε step down the CE of the target class."""

    name = "step-target-class"
    track = "targeted"
    params_type = StepTargetParams

    def default_models(self) -> tuple[str, ...]:
        return zoo_models()[:1]


@dataclasses.dataclass(frozen=True)
class IterTargetParams(GradientParams):
    iterations: int = 20
    step: float | None = 1.0


@register
class IterTargetClass(IterativeAttack):
    """The NIPS17 ``iter_target_class`` baseline: 20 steps of 1 pixel down the CE of the target
    (label smoothing and the aux head of Inception-v3 have no counterpart in the zoo)."""

    name = "iter-target-class"
    track = "targeted"
    params_type = IterTargetParams

    def default_models(self) -> tuple[str, ...]:
        return zoo_models()[:1]


@dataclasses.dataclass(frozen=True)
class MifgsmTargetedParams(GradientParams):
    mu: float = 1.0
    direction: Direction = "std-round"
    #: Use TSAIL's ε-dependent schedule (ε ≥ 8: 20 iterations of ε/12; else 40 of ε/28).
    reference_schedule: bool = True


#: TSAIL's targeted ensembles mapped onto the zoo: ε ≥ 8: v3×4 → lite0 4, {adv-v3, ens3, ens4} → lite1 3,
#: ensadv-IRv2×4 → lite2 4; ε < 8: v3×1 → lite0 1, ensadv-IRv2×2 → lite2 2 (lite1 dropped).
TSAIL_TARGETED_HIGH = {"efficientnet-lite0": 4.0, "efficientnet-lite1": 3.0, "efficientnet-lite2": 4.0}
TSAIL_TARGETED_LOW = {"efficientnet-lite0": 1.0, "efficientnet-lite2": 2.0}


@register
class MifgsmTargeted(IterativeAttack):
    """TSAIL's targeted MI-FGSM (1st place targeted): std-normalised momentum, steps of
    α·clip(round(n), −2, 2), ε-dependent ensemble and schedule."""

    name = "mifgsm-targeted"
    track = "targeted"
    params_type = MifgsmTargetedParams

    def __init__(self, params: Params | None = None, *, models: Sequence[str] = ()) -> None:
        self._explicit_models = bool(models)
        super().__init__(params, models=models)

    def _roster(self, eps_px: int) -> dict[str, float]:
        return TSAIL_TARGETED_HIGH if eps_px >= 8 else TSAIL_TARGETED_LOW

    def source(self, eps_px: int) -> Source:
        models = self.models
        if not self._explicit_models:
            table = self._roster(eps_px)
            models = tuple(m for m in self.models if m in table) or self.models
        weights = self.gp.weights or roster_weights(models, self._roster(eps_px))
        return get_source(models, weights, loss=self.head(), kappa=self.gp.kappa)

    def schedule(self, eps: float) -> tuple[int, float]:
        p = self.params
        assert isinstance(p, MifgsmTargetedParams)
        if not p.reference_schedule:
            return super().schedule(eps)
        if round(eps * 255) >= 8:
            return 20, eps / 12
        return 40, eps / 28


__all__ = [
    "CwLinf",
    "Difgsm",
    "Fgsm",
    "GradientParams",
    "Ifgsm",
    "IterTargetClass",
    "IterativeAttack",
    "Mifgsm",
    "MifgsmTargeted",
    "Pgd",
    "StepTargetClass",
    "Tifgsm",
    "project",
]
