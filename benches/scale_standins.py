"""The stand-in piece of benches/bench_scale.py: an attack of known cost (registered on import)."""

from __future__ import annotations

import time

import numpy as np

from advengine.attacks import Attack
from advengine.attacks import register as register_attack
from advengine.params import Params
from advengine.types import ImagesF32, Labels


class BurnParams(Params):
    #: CPU seconds each piece burns.
    seconds: float = 0.0


def burn(seconds: float) -> None:
    """Spin until this process has used ``seconds`` of CPU time (not wall time: a loaded machine
    stretches the wall time, not the work)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@register_attack
class BurnAttack(Attack[BurnParams]):
    """Returns its input after burning a fixed amount of CPU: a piece of known cost."""

    name = "bench-burn"
    params_type = BurnParams

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        burn(self.params.seconds)
        return x
