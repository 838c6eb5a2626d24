"""Adaptive PGD: ``bpda-pgd`` and ``eot-pgd`` attack a whole defense pipeline, not its models alone.

The pipeline is given by parameters that mirror the pipeline defense's (``transforms``, ``fusion``,
``resize_pad_draws``, ``flip_prob``, ``size_low``, ``size_high``, ``canvas``, ``dropout``;
``advengine audit`` and an eval roster entry's ``source_defense`` fill them from the defense), so
attacks need not import defenses (they are siblings, see docs/architecture.md): both meet at
:class:`~advengine.kernels.transforms.PipelineSpec`.
``draws`` is the number of EOT draws per gradient step (K) when the pipeline is randomised.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from advengine.attacks.base import ATTACKS
from advengine.attacks.gradient import MAX_ITERATIONS, GradientParams, IterativeAttack
from advengine.attacks.pipeline_source import pipeline_source
from advengine.attacks.sources import Source
from advengine.kernels.transforms import PipelineSpec, TransformSpecs, parse_transform
from advengine.params import Configured, Params


class PipelineFields(Params):
    """The defense pipeline attacked (default: the models alone) and the EOT draws per step; shared
    by every attack that can take a pipeline as its source."""

    #: The defense's input transforms in order, ``name[:argument]`` (BPDA: identity backward).
    transforms: TransformSpecs = ()
    #: How the defense fuses its models: mean logits or mean probabilities.
    fusion: Literal["logit", "prob"] = "logit"
    #: The defense's random resize + pad draws (0: none; > 0: the attack uses EOT).
    resize_pad_draws: Annotated[int, Field(ge=0)] = 0
    #: The defense's flip probability per draw.
    flip_prob: Annotated[float, Field(ge=0, le=1)] = 0.5
    #: The defense's resize range: rnd ∈ [size_low, size_high), nearest neighbour.
    size_low: Annotated[int, Field(ge=1, le=4096)] = 310
    #: Exclusive upper bound of rnd.
    size_high: Annotated[int, Field(ge=2, le=4096)] = 331
    #: The defense's gray canvas side.
    canvas: Annotated[int, Field(ge=1, le=4096)] = 331
    #: The defense's dropout rate at inference (0: none; > 0: each EOT draw runs fresh masks).
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    #: EOT draws per gradient step (K); used when the pipeline is randomised.
    draws: Annotated[int, Field(ge=1, le=MAX_ITERATIONS)] = 1
    #: Per-model weights of the fused models (None: equal, as the pipeline defenses).
    weights: tuple[float, ...] | None = None


class PipelineParams(PipelineFields, GradientParams):
    """The iterative family's knobs on a pipeline source."""


def pipeline_spec(models: tuple[str, ...], p: PipelineFields) -> PipelineSpec:
    """The pipeline the params describe, on ``models``."""
    return PipelineSpec(
        models,
        tuple(parse_transform(t) for t in p.transforms),
        p.fusion,
        p.resize_pad_draws,
        p.flip_prob,
        p.size_low,
        p.size_high,
        p.canvas,
        p.dropout,
    )


def fields_source(
    attack: Configured[Any], p: PipelineFields, rng: np.random.Generator, loss: str = "ce"
) -> Source:
    """The source of an attack whose params are :class:`PipelineFields` (APGD, Square, AutoAttack)."""
    return pipeline_source(
        pipeline_spec(attack.models, p),
        loss=loss,
        weights=p.weights,
        rng=rng,
        eot_draws=p.draws,
        context=attack.context,
    )


def spec_params(spec: PipelineSpec) -> dict[str, Any]:
    """The attack params that describe ``spec`` (its models go to ``models``): the inverse of
    :func:`pipeline_spec`, used to aim an adaptive attack at a defense."""
    return {
        "transforms": tuple(str(t) for t in spec.transforms),
        "fusion": spec.fusion,
        "resize_pad_draws": spec.draws,
        "flip_prob": spec.flip_prob,
        "size_low": spec.size_low,
        "size_high": spec.size_high,
        "canvas": spec.canvas,
        "dropout": spec.dropout,
    }


class PipelineAttack(IterativeAttack[PipelineParams]):
    """The iterative loop on the pipeline's source (BPDA through transforms, EOT over draws)."""

    params_type = PipelineParams

    def spec(self) -> PipelineSpec:
        return pipeline_spec(self.models, self.params)

    def fused_step(self) -> str | None:
        # A fused step runs the models' graph alone: only for a pipeline that is just the models.
        spec = self.spec()
        return None if spec.transforms or spec.randomized else super().fused_step()

    def source(self, eps_px: int, rng: np.random.Generator | None = None) -> Source:
        p = self.params
        return pipeline_source(
            self.spec(),
            loss=self.head(),
            kappa=p.kappa,
            weights=p.weights,
            rng=rng if rng is not None else np.random.default_rng(0),
            eot_draws=p.draws,
            context=self.context,
        )


def default_pipeline_models() -> tuple[str, ...]:
    """An adaptive attack aims at one defense, whose default model is the zoo's first."""
    return ("efficientnet-lite0",)


ATTACKS.register_preset(
    "bpda-pgd",
    PipelineAttack,
    doc="""PGD through a defense pipeline with BPDA (Athalye et al. 2018): the transforms run forward,
    the identity backward; 20 sign steps of 2.5·ε/20 from a random start.""",
    default_models=default_pipeline_models,
    iterations=20,
    step_scale=2.5,
    random_start=True,
)
ATTACKS.register_preset(
    "eot-pgd",
    PipelineAttack,
    doc="""PGD with EOT over a randomised pipeline (and BPDA through its transforms): each step averages
    the gradients of ``draws`` random draws; 20 sign steps of 2.5·ε/20 from a random start.""",
    default_models=default_pipeline_models,
    iterations=20,
    step_scale=2.5,
    random_start=True,
    draws=4,
)


__all__ = [
    "PipelineAttack",
    "PipelineFields",
    "PipelineParams",
    "fields_source",
    "pipeline_spec",
    "spec_params",
]
