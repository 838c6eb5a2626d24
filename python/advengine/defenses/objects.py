"""``advengine.defend``: a registered defense run on a library user's images.

Images are uint8 ``[n, h, w, 3]`` or float ``[n, 3, h, w]`` in [0, 1] of any size, numpy or anything
with ``__dlpack__``/``__array__``. Defenses work on the competition's uint8 299×299 images (their
transforms are pixel kernels), so other sizes are resized bilinearly to 299 and float images are
rounded to pixels first. The labels (TF-Slim, 1..1000) come back as the same kind of array.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from advengine.context import RunContext
from advengine.data.arrays import as_batch, like
from advengine.data.images import IMAGE_SIDE, from_model_output
from advengine.defenses.base import DEFENSES
from advengine.errors import ParameterError
from advengine.models.model import Model
from advengine.models.resize import resize_bilinear


def defend(
    name: str,
    model: Model | str | Sequence[Model | str] | None,
    images: Any,
    *,
    seed: int = 0,
    batch_size: int = 25,
    context: RunContext | None = None,
    **params: Any,
) -> Any:
    """Labels of ``images`` under the defense ``name`` (``advengine list``) in front of ``model`` (None:
    the defense's own classifiers); ``params`` are the defense's parameters."""
    given = () if model is None else (model,) if isinstance(model, Model | str) else tuple(model)
    names = tuple(m if isinstance(m, str) else m.name for m in given)
    first = next((m for m in given if isinstance(m, Model)), None)
    ctx = context or (first.context if first is not None else RunContext.from_env())
    defense = DEFENSES.build(name, params, names, ctx)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
    batch = as_batch(images)
    x = batch.x
    labels = []
    for i in range(0, len(x), batch_size):
        part = x[i : i + batch_size]
        if part.shape[2:] != (IMAGE_SIDE, IMAGE_SIDE):
            part = resize_bilinear(part, IMAGE_SIDE)
        labels.append(defense(from_model_output(part), seed=seed + i))
    out = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    return like(out[0:1].reshape(()) if batch.single else out, batch.like)


__all__ = ["defend"]
