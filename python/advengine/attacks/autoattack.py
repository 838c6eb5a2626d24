"""``autoattack-lite``: AutoAttack's standard L∞ roster without FAB (Croce & Hein 2020): APGD-CE,
then APGD-T on the images it did not fool, then Square on the rest; each image keeps the first
attack's point that fools the source (models or pipeline), else the last attack's point.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import numpy as np
from pydantic import Field

from advengine.attacks.adaptive import PipelineFields, fields_source
from advengine.attacks.apgd import Apgd, ApgdParams
from advengine.attacks.base import ATTACKS, Attack
from advengine.attacks.gradient import Iterations
from advengine.attacks.square import MAX_QUERIES, SquareLinf, SquareParams
from advengine.params import Params
from advengine.types import ImagesF32, Labels


class AutoAttackParams(PipelineFields):
    #: APGD iterations per run (APGD-CE, and APGD-T per target).
    iterations: Iterations = 100
    #: APGD-T target classes.
    targets: Annotated[int, Field(ge=1, le=999)] = 9
    #: Square's query budget per image.
    queries: Annotated[int, Field(ge=1, le=MAX_QUERIES)] = 5000


class AutoAttackLite(Attack[AutoAttackParams]):
    """APGD-CE → APGD-T → Square, per image keeping the first success."""

    params_type: ClassVar[type[Params]] = AutoAttackParams
    needs_models: ClassVar[bool] = True

    def default_models(self) -> tuple[str, ...]:
        return ("efficientnet-lite0",)

    def stages(self) -> list[Attack[ApgdParams] | Attack[SquareParams]]:
        p = self.params
        shared = {k: getattr(p, k) for k in PipelineFields.model_fields}
        return [
            Apgd(
                ApgdParams(**shared, iterations=p.iterations, apgd_loss="ce"),
                name="apgd-ce",
                models=self.models,
                context=self.context,
            ),
            Apgd(
                ApgdParams(**shared, iterations=p.iterations, apgd_loss="dlr-targeted", targets=p.targets),
                name="apgd-t",
                models=self.models,
                context=self.context,
            ),
            SquareLinf(
                SquareParams(**shared, queries=p.queries),
                name="square-linf",
                models=self.models,
                context=self.context,
            ),
        ]

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        if len(x) == 0 or eps == 0:
            return x
        p = self.params
        judge = fields_source(self, p, rng)
        y = judge.predict_idx(x)
        out = x.copy()
        todo = np.arange(len(x))
        for stage in self.stages():
            if len(todo) == 0:
                break
            adv = stage.run(x[todo], eps, None, rng)
            out[todo] = adv
            todo = todo[judge.predict_idx(adv) == y[todo]]
        return out


ATTACKS.register_preset(
    "autoattack-lite",
    AutoAttackLite,
    doc="AutoAttack without FAB: APGD-CE, APGD-T, Square; per image the first success.",
)


__all__ = ["AutoAttackLite", "AutoAttackParams"]
