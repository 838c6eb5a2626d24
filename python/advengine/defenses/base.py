"""The defense contract: a batch of uint8 images → TF-Slim labels (1..1000; 0 = background).

Subclasses implement :meth:`Defense.classify`; the final :meth:`Defense.__call__` validates the batch
and the labels that come back, so a broken defense fails loudly instead of scoring quietly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, final

import numpy as np

from advengine.data.checks import check_images
from advengine.errors import ShapeError
from advengine.params import Configured, P
from advengine.registry import Registry
from advengine.types import ImagesU8, Labels


class Defense(Configured[P], ABC):
    """Base class of every built-in defense; ``P`` is its params model."""

    #: Randomised defenses (e.g. random resize + pad) draw from the seed given to ``__call__``.
    randomized: bool = False
    settings = Configured.settings | {"randomized"}

    @final
    def __call__(self, images: ImagesU8, *, seed: int = 0) -> Labels:
        batch = check_images(images)
        labels = np.asarray(self.classify(batch, np.random.default_rng(seed)))
        if labels.shape != (len(batch),) or not np.issubdtype(labels.dtype, np.integer):
            raise ShapeError(
                f"{self.name} returned {labels.dtype.name} {list(labels.shape)}, expected {len(batch)} labels"
            )
        if len(labels) and (labels.min() < 0 or labels.max() > 1000):
            raise ShapeError(f"{self.name} returned labels outside 0..1000")
        return labels.astype(np.int64)

    @abstractmethod
    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        """TF-Slim labels for a validated uint8 NHWC batch."""


#: Every registered defense by name (``advengine.defenses.register`` / ``register_preset`` add to it).
DEFENSES: Registry[Defense[Any]] = Registry("defense")
