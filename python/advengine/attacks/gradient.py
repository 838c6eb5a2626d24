"""The iterative gradient attacks: FGSM, I-FGSM (BIM), PGD, MI-FGSM, DI-FGSM, TI-FGSM, C&W-L∞ PGD and
the targeted-track baselines.

They share one loop (:class:`IterativeAttack`, its state in :class:`IterationState`); each registered
name is a preset of it with the published defaults (or of a subclass that changes the schedule or the
source). Every step asks the source ensemble (a gradient graph
compiled by :mod:`advengine.graph`, logits fused with ``weights``) for d loss/dx at the current image,
optionally through a random input-diversity warp (its exact adjoint maps the gradient back) and TI
smoothing, then moves by the normalised direction and projects onto the ε-box ∩ [0, 1]:

* ``sign``: x ← x + α·sign(g) (FGSM, I-FGSM, PGD);
* ``mean-abs`` (MI-FGSM): m ← μ·m + g/mean|g| per image, x ← x + α·sign(m);
* ``std-round`` (TSAIL targeted): n ← g/std(g), n ← μ·m + n, m ← n/std(n), x ← x + α·clip(round(m), ±2).

Losses are ascended: ``ce`` on the label for non-targeted attacks, ``ce-targeted`` (−CE of the
target) for targeted ones, ``cw``/``cw-targeted`` for the C&W margin. Non-targeted labels are the
source ensemble's own prediction on the clean image (as the NIPS17 FGSM baseline and TSAIL do).

Where a step needs nothing on the host (no DI, TI or EOT), the loop runs as the update fused into the
source graph (:meth:`IterativeAttack.iterate_fused`), and own-prediction labels come from the first
step's logits instead of a forward pass of their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import numpy as np
from pydantic import Field, field_validator

from advengine.attacks.augment import random_diversity, smooth_gradient
from advengine.attacks.base import ATTACKS, Attack
from advengine.attacks.sources import IMAGE_SIDE, MAX_GRAPH_BATCH, FusedSteps, Source, get_source, zoo_models
from advengine.errors import ParameterError
from advengine.graph.runner import OWN_PREDICTION
from advengine.models import check_models
from advengine.params import Params
from advengine.types import ImagesF32, Labels
from advengine.validation import must

Direction = Literal["sign", "mean-abs", "std-round"]
TINY = 1e-30


#: At most 10 000: far beyond any published schedule, and a bound on how long a piece can ask for.
MAX_ITERATIONS = 10_000
Iterations = Annotated[int, Field(ge=1, le=MAX_ITERATIONS)]


class GradientParams(Params):
    """Shared knobs of the iterative family (defaults: I-FGSM as in Dong et al.'s baseline)."""

    #: Number of gradient steps.
    iterations: Iterations = 10
    #: Step size in pixel units (0..255); None: ``step_scale``·ε/iterations.
    step: Annotated[float, Field(gt=0, le=255)] | None = None
    #: Step as a multiple of ε/iterations when ``step`` is None.
    step_scale: Annotated[float, Field(gt=0)] = 1.0
    #: Momentum μ (0: none).
    mu: Annotated[float, Field(ge=0)] = 0.0
    #: Direction of one step: sign of the gradient, MI-FGSM's mean-|g| momentum, or TSAIL's std-round.
    direction: Direction = "sign"
    #: Start from a uniform random point of the ε-box (PGD).
    random_start: bool = False
    #: Loss to ascend: cross-entropy or the C&W margin.
    loss: Literal["ce", "cw"] = "ce"
    #: C&W margin cap κ (the margin stops pushing beyond κ).
    kappa: float = 0.0
    #: Probability per step of the input-diversity warp (DI); 0 disables it.
    diversity_prob: Annotated[float, Field(ge=0, le=1)] = 0.0
    #: DI shrinks to rnd ∈ [diversity_low·299, 299) before padding back to 299.
    diversity_low: Annotated[float, Field(ge=0.5, lt=1)] = 0.9
    #: TI Gaussian kernel side (0 disables translation-invariant smoothing).
    ti_size: Annotated[int, Field(ge=0)] = 0
    #: TI kernel's nsig (the kernel spans ±nsig standard deviations).
    ti_nsig: Annotated[float, Field(gt=0)] = 3.0
    #: Per-model logit weights of the source ensemble (None: equal weights).
    weights: tuple[float, ...] | None = None

    @field_validator("ti_size")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value and value % 2 == 0:
            raise must("0 or an odd kernel side")
        return value


def _per_image_mean(a: ImagesF32) -> ImagesF32:
    return np.asarray(a.reshape(len(a), -1).mean(axis=1).reshape(-1, 1, 1, 1), np.float32)


def _standardise(a: ImagesF32) -> ImagesF32:
    std = a.reshape(len(a), -1).std(axis=1).reshape(-1, 1, 1, 1)
    return np.asarray(a / np.maximum(std, TINY), np.float32)


def project(x: ImagesF32, x0: ImagesF32, eps: float) -> ImagesF32:
    """Onto [x0−ε, x0+ε] ∩ [0, 1]."""
    out: ImagesF32 = np.clip(np.clip(x, x0 - eps, x0 + eps), 0.0, 1.0).astype(np.float32)
    return out


@dataclasses.dataclass
class IterationState:
    """What one run of the iterative loop carries from step to step: the clean batch and its labels,
    the budget and step size, the current iterate and the momentum, the random draws and the source
    ensemble. A step reads it and moves ``x`` (and ``momentum``); a step fused into the gradient graph
    (:mod:`advengine.graph.steps`) can take the same state."""

    source: Source
    x0: ImagesF32
    y: Labels
    eps: float
    step: float
    iterations: int
    rng: np.random.Generator
    #: Index of the step being taken (0-based).
    t: int = 0
    x: ImagesF32 = dataclasses.field(init=False)
    momentum: ImagesF32 = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.x = self.x0.copy()
        self.momentum = np.zeros_like(self.x0)

    def move(self, delta: ImagesF32 | np.floating[Any]) -> None:
        """x ← project(x + delta) onto [x0 − ε, x0 + ε] ∩ [0, 1]."""
        self.x = project(self.x + delta, self.x0, self.eps)


def nothing_to_do(name: str, x: ImagesF32, eps: float) -> bool:
    """Whether a gradient attack can return ``x`` as it is (no images or no budget); refuses inputs
    that are not 299×299, the side every source graph takes."""
    if len(x) == 0 or eps == 0:
        return True
    if x.shape[2:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ParameterError(f"{name} works on 299×299 images, got {x.shape[2]}×{x.shape[3]}")
    return False


def first_model() -> tuple[str, ...]:
    """The default source of the single-model baselines: the zoo's first model."""
    return zoo_models()[:1]


def roster_weights(models: Sequence[str], table: Mapping[str, float]) -> tuple[float, ...] | None:
    if all(m in table for m in models):
        return tuple(table[m] for m in models)
    return None


GP = TypeVar("GP", bound=GradientParams)


class IterativeAttack(Attack[GP]):
    """The shared loop. Registered names are presets of it (other defaults, track or default sources);
    subclasses change the schedule, the source or the loop itself."""

    params_type: ClassVar[type[Params]] = GradientParams
    needs_models: ClassVar[bool] = True

    settings = Attack.settings | {"weight_table"}
    #: Published per-model logit weights, used when ``weights`` is not given and every model has one.
    weight_table: Mapping[str, float] | None = None

    def __init__(self, params: GP, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        check_models(self.models, self.name, "source model")

    def default_models(self) -> tuple[str, ...]:
        """The published roster limited to the zoo: by default the whole zoo."""
        return zoo_models()

    def warm_up(self, batch: int) -> None:
        # The source graph and session the batch will use, at the largest budget (a preset whose
        # source depends on ε may still build another on its first batch of a smaller ε): the graph
        # with the fused step where the attack runs one, else the plain gradient graph.
        self.source(16).warm_up(max(1, min(batch, MAX_GRAPH_BATCH)), self.fused_step())

    def source_weights(self, eps_px: int) -> tuple[float, ...] | None:
        if self.weight_table is not None and not self.params.weights:
            return roster_weights(self.models, self.weight_table)
        return self.params.weights

    def schedule(self, eps: float) -> tuple[int, float]:
        """(iterations, step in [0, 1] units) for budget ``eps``."""
        p = self.params
        step = p.step / 255.0 if p.step is not None else p.step_scale * eps / p.iterations
        return p.iterations, step

    def head(self) -> str:
        base = self.params.loss
        return f"{base}-targeted" if self.track == "targeted" else base

    def source(self, eps_px: int, rng: np.random.Generator | None = None) -> Source:
        """The gradient oracle for budget ``eps_px``; ``rng`` drives its random draws (EOT)."""
        return get_source(
            self.models,
            self.source_weights(eps_px),
            loss=self.head(),
            kappa=self.params.kappa,
            context=self.context,
        )

    def labels(self, src: Source, x: ImagesF32, target_classes: Labels | None) -> Labels:
        if target_classes is not None:
            return (target_classes - 1).astype(np.int64)
        return src.predict_idx(x)

    def gradient(self, src: Source, x: ImagesF32, y: Labels, rng: np.random.Generator) -> ImagesF32:
        p = self.params
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
        if nothing_to_do(self.name, x, eps):
            return x
        src = self.source(round(eps * 255), rng)
        iterations, step = self.schedule(eps)
        fused = self.fused_step()
        if fused is not None and target_classes is None and not self.params.random_start:
            # The own prediction at x0 comes out of the first fused step's logits (no forward pass).
            y = np.full(len(x), OWN_PREDICTION, np.int64)
        else:
            y = self.labels(src, x, target_classes)
        state = IterationState(src, x, y, eps, step, iterations, rng)
        if fused is None:
            self.iterate(state)
        else:
            self.iterate_fused(state, fused)
        return state.x

    def fused_step(self) -> str | None:
        """The update fused into the source graph (:mod:`advengine.graph.steps`) that does this
        attack's whole step, or None where a step needs the host: a DI warp, TI smoothing, momentum on
        plain sign steps, or a subclass's own loop, step or gradient (EOT, cross-iterative)."""
        own = type(self)
        if any(getattr(own, m) is not getattr(IterativeAttack, m) for m in ("iterate", "step", "gradient")):
            return None
        p = self.params
        if p.diversity_prob > 0 or p.ti_size:
            return None
        if p.direction == "sign":
            return "sign" if p.mu == 0 else None
        return "mifgsm" if p.direction == "mean-abs" else "mifgsm-targeted"

    def random_start(self, state: IterationState) -> None:
        """PGD's start: a uniform random point of the ε-box (∩ [0, 1])."""
        state.move(state.rng.uniform(-state.eps, state.eps, size=state.x.shape).astype(np.float32))

    def iterate(self, state: IterationState) -> None:
        """The whole loop: a random start (PGD), then ``iterations`` steps."""
        if self.params.random_start:
            self.random_start(state)
        for t in range(state.iterations):
            state.t = t
            self.step(state)

    def iterate_fused(self, state: IterationState, step: str) -> None:
        """:meth:`iterate` with every step fused into the source graph: one ORT run per step through
        IO binding (the iterate and momentum stay in ORT), the same arithmetic as :meth:`step`, so the
        results agree within float rounding (tests/attacks/test_fused_steps.py)."""
        x_init = None
        if self.params.random_start:
            self.random_start(state)
            x_init = state.x
        plan = FusedSteps(step, state.eps, state.step, state.iterations, self.params.mu)
        result = state.source.steps(plan, state.x0, state.y, x_init)
        state.x, state.y, state.t = result.x, result.labels, state.iterations - 1

    def step(self, state: IterationState) -> None:
        """One gradient step in the direction of ``direction``, with momentum μ."""
        p = self.params
        g = self.gradient(state.source, state.x, state.y, state.rng)
        if p.direction == "mean-abs":
            m = np.asarray(
                p.mu * state.momentum + g / np.maximum(_per_image_mean(np.abs(g)), TINY), np.float32
            )
            d = np.sign(m)
        elif p.direction == "std-round":
            m = _standardise(p.mu * state.momentum + _standardise(g))
            d = np.clip(np.round(m), -2.0, 2.0)
        else:
            m = p.mu * state.momentum + g if p.mu else g
            d = np.sign(m)
        state.momentum = m
        state.move(np.float32(state.step) * d.astype(np.float32))


# ---- schedules that depend on ε ---------------------------------------------------------------------


class DifgsmParams(GradientParams):
    #: Use the reference's ε-dependent iteration count, min(ε+4, 1.25ε), instead of ``iterations``.
    reference_schedule: bool = True


class Difgsm(IterativeAttack[DifgsmParams]):
    """DI-FGSM (Xie et al.): I-FGSM whose gradient is taken, with p = 0.5 per step, at a randomly
    shrunk (nearest, [0.9·299, 299)) and zero-padded copy; 1-pixel steps, min(ε+4, 1.25ε) iterations."""

    params_type = DifgsmParams

    def schedule(self, eps: float) -> tuple[int, float]:
        iterations, step = super().schedule(eps)
        if self.params.reference_schedule:
            e = eps * 255
            iterations = max(1, int(min(e + 4, 1.25 * e)))
        return iterations, step


class MifgsmTargetedParams(GradientParams):
    #: Use TSAIL's ε-dependent schedule (ε ≥ 8: 20 iterations of ε/12; else 40 of ε/28).
    reference_schedule: bool = True


#: TSAIL's logit weights (v3 + 0.25·adv-v3 + ens3 + ens4 + v4 + IRv2 + ensadv-IRv2 + R101)/7.25 mapped
#: onto the zoo by family: lite0 ← {v3, v4} = 2, lite1 ← {adv-v3, ens3, ens4} = 2.25,
#: lite2 ← {IRv2, ensadv-IRv2, R101} = 3 (see docs/attacks.md).
TSAIL_WEIGHTS = {"efficientnet-lite0": 2.0, "efficientnet-lite1": 2.25, "efficientnet-lite2": 3.0}
#: TSAIL's targeted ensembles mapped onto the zoo: ε ≥ 8: v3×4 → lite0 4, {adv-v3, ens3, ens4} → lite1 3,
#: ensadv-IRv2×4 → lite2 4; ε < 8: v3×1 → lite0 1, ensadv-IRv2×2 → lite2 2 (lite1 dropped).
TSAIL_TARGETED_HIGH = {"efficientnet-lite0": 4.0, "efficientnet-lite1": 3.0, "efficientnet-lite2": 4.0}
TSAIL_TARGETED_LOW = {"efficientnet-lite0": 1.0, "efficientnet-lite2": 2.0}


class MifgsmTargeted(IterativeAttack[MifgsmTargetedParams]):
    """TSAIL's targeted MI-FGSM (1st place targeted): std-normalised momentum, steps of
    α·clip(round(n), −2, 2), ε-dependent ensemble and schedule."""

    params_type = MifgsmTargetedParams

    def __init__(self, params: MifgsmTargetedParams, *, models: Sequence[str] = (), **kwargs: Any) -> None:
        self._explicit_models = bool(models)
        super().__init__(params, models=models, **kwargs)

    def _roster(self, eps_px: int) -> dict[str, float]:
        return TSAIL_TARGETED_HIGH if eps_px >= 8 else TSAIL_TARGETED_LOW

    def source(self, eps_px: int, rng: np.random.Generator | None = None) -> Source:
        models = self.models
        if not self._explicit_models:
            table = self._roster(eps_px)
            models = tuple(m for m in self.models if m in table) or self.models
        weights = self.params.weights or roster_weights(models, self._roster(eps_px))
        return get_source(models, weights, loss=self.head(), kappa=self.params.kappa, context=self.context)

    def schedule(self, eps: float) -> tuple[int, float]:
        if not self.params.reference_schedule:
            return super().schedule(eps)
        if round(eps * 255) >= 8:
            return 20, eps / 12
        return 40, eps / 28


# ---- the registered names -------------------------------------------------------------------------

#: MI-FGSM's momentum, shared by its presets.
MI: dict[str, Any] = {"mu": 1.0, "direction": "mean-abs"}

ATTACKS.register_preset(
    "fgsm",
    IterativeAttack,
    doc="FGSM (Goodfellow et al.; the NIPS17 sample): one ε step along sign ∇CE of the own prediction.",
    default_models=first_model,  # the sample attacked Inception-v3 alone
    iterations=1,
)
ATTACKS.register_preset(
    "ifgsm",
    IterativeAttack,
    doc="I-FGSM / BIM (Kurakin et al.): 10 sign steps of ε/10 with projection (Dong et al.'s baseline).",
)
ATTACKS.register_preset(
    "pgd",
    IterativeAttack,
    doc="PGD (Madry et al.): uniform random start in the ε-box, 10 sign steps of 2.5·ε/10.",
    step_scale=2.5,
    random_start=True,
)
ATTACKS.register_preset(
    "cw-linf",
    IterativeAttack,
    doc="C&W-L∞ as PGD on the C&W margin max_{j≠y} z_j − z_y (capped at κ = 50).",
    step_scale=2.5,
    random_start=True,
    loss="cw",
    kappa=50.0,
)
ATTACKS.register_preset(
    "mifgsm",
    IterativeAttack,
    doc="""MI-FGSM (TSAIL, 1st place non-targeted): logit ensemble, μ = 1, 10 iterations of ε/10,
    gradient / mean|g| accumulated, sign step.""",
    weight_table=TSAIL_WEIGHTS,
    **MI,
)
ATTACKS.register_preset("difgsm", Difgsm, step=1.0, diversity_prob=0.5)
ATTACKS.register_preset(
    "tifgsm",
    IterativeAttack,
    doc="""TI-FGSM (Dong et al. 2019) in its momentum form: the gradient is convolved with a 15×15
    Gaussian (nsig 3) before the mean-|g| normalisation; μ = 1, 10 iterations of ε/10.""",
    ti_size=15,
    **MI,
)
ATTACKS.register_preset(
    "step-target-class",
    IterativeAttack,
    doc="The NIPS17 ``step_target_class`` baseline: one ε step down the CE of the target class.",
    track="targeted",
    default_models=first_model,
    iterations=1,
)
ATTACKS.register_preset(
    "iter-target-class",
    IterativeAttack,
    doc="""The NIPS17 ``iter_target_class`` baseline: 20 steps of 1 pixel down the CE of the target
    (label smoothing and the aux head of Inception-v3 have no counterpart in the zoo).""",
    track="targeted",
    default_models=first_model,
    iterations=20,
    step=1.0,
)
ATTACKS.register_preset("mifgsm-targeted", MifgsmTargeted, track="targeted", mu=1.0, direction="std-round")


__all__ = [
    "Difgsm",
    "DifgsmParams",
    "GradientParams",
    "IterationState",
    "IterativeAttack",
    "MifgsmTargeted",
    "MifgsmTargetedParams",
    "first_model",
    "nothing_to_do",
    "project",
]
