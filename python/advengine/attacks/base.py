"""The attack contract.

An attack maps a batch of clean uint8 images to adversarial uint8 images within an integer L∞ budget,
exactly as a NIPS 2017 submission does. Subclasses implement :meth:`Attack.run` in float32 NCHW
[0, 1] space; the final :meth:`Attack.__call__` validates the inputs, converts, calls ``run`` and then
enforces the budget itself (round to uint8, organiser's projection in Rust), because the harness
cannot trust what ``run`` returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, final

import numpy as np

from advengine.data.checks import check_images, check_labels
from advengine.data.images import from_model_output, to_model_input
from advengine.errors import ParameterError, ShapeError
from advengine.kernels import clip_linf
from advengine.params import Configured, P
from advengine.registry import Registry
from advengine.types import AttackTrack, ImagesF32, ImagesU8, Labels

Track = AttackTrack


class Attack(Configured[P], ABC):
    """Base class of every built-in attack; ``P`` is its params model."""

    settings = Configured.settings | {"track"}
    #: The track it competes in (a preset may register the class for the other one).
    track: AttackTrack = "nontargeted"
    #: Whether :meth:`run` needs source models (gradient attacks do, noise baselines do not).
    needs_models: ClassVar[bool] = False

    @final
    def __call__(
        self,
        images: ImagesU8,
        *,
        eps: int,
        target_classes: Labels | None = None,
        seed: int = 0,
    ) -> ImagesU8:
        """Adversarial uint8 images for ``images`` under the integer budget ``eps`` (0..255)."""
        clean = check_images(images)
        if isinstance(eps, bool) or not isinstance(eps, int | np.integer) or not 0 <= eps <= 255:
            raise ParameterError(f"eps must be an integer in 0..255 (pixel units), got {eps!r}")
        targets = None
        if self.track == "targeted":
            if target_classes is None:
                raise ParameterError(f"{self.name} is a targeted attack: give target_classes")
            targets = check_labels(target_classes, len(clean), "target_classes")
        rng = np.random.default_rng(seed)
        x = to_model_input(clean)
        adv = self.run(x, float(eps) / 255.0, targets, rng)
        if adv.shape != x.shape:
            raise ShapeError(f"{self.name} returned shape {list(adv.shape)}, expected {list(x.shape)}")
        out = from_model_output(adv)
        return clip_linf(out, clean, int(eps), out=out)

    @abstractmethod
    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        """Adversarial float32 NCHW images in [0, 1] for clean ``x``; ``eps`` is in [0, 1] units."""


#: Every registered attack by name (``advengine.attacks.register`` / ``register_preset`` add to it).
ATTACKS: Registry[Attack[Any]] = Registry("attack")
