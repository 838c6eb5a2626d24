"""A test-only attack whose worker process dies on its first piece (as under the OOM killer) and
works afterwards; workers import it through ``plugins``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tests.competition.fakes import FakeParams, Scripted

from advengine.attacks import ATTACKS, register_preset
from advengine.types import ImagesF32


def _die_once(p: FakeParams, x: ImagesF32, eps: float, rng: np.random.Generator) -> ImagesF32:
    marker = Path(p.marker)
    if not marker.exists():
        marker.write_text("died once")
        os._exit(9)
    return x


if "die-once" not in ATTACKS.names():
    register_preset("die-once", Scripted, script=_die_once)
