"""The guide of an LGD run at the side it is trained at. HGD's guide need not be the classifier the
denoiser is deployed for (a cheaper one trains it faster, and the report's HGD transfers across
models), and it may run on random crops of the denoiser's input: the DUNET is fully convolutional,
and so is an EfficientNet-Lite up to its global pooling, so the guide's input side is rewritten to
the crop's and its logits on the crop are the target."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import onnx

from advengine.context import RunContext
from advengine.errors import ConfigError, GraphError
from advengine.graph.runner import make_session
from advengine.models import ensure_onnx, get_manifest

F32 = npt.NDArray[np.float32]


def guide_model(name: str, side: int, context: RunContext | None) -> onnx.ModelProto:
    """Zoo model ``name`` taking ``input`` [N, 3, side, side] (its own graph where that is its side)."""
    model = onnx.load(str(ensure_onnx(name, cache_root=context.cache_dir if context else None)))
    if side == get_manifest(name).input_size:
        return model
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for d in dims[2:]:
        d.ClearField("dim_param")
        d.dim_value = side
    del model.graph.value_info[:]  # intermediate shapes at the old side; ONNX Runtime infers them again
    return model


class GuideLogits:
    """The guide's logits (a forward-only session) on batches at ``side``."""

    def __init__(self, name: str, side: int, context: RunContext | None) -> None:
        try:
            self.session = make_session(guide_model(name, side, context), context=context)
            # One image now: a graph that cannot take this side fails here, with the fix, whether ONNX
            # Runtime finds out when it builds the session or when it runs it.
            self.session.run(["logits"], {"input": np.zeros((1, 3, side, side), np.float32)})
        except Exception as exc:  # ORT's own exception types: the graph does not run at this side
            raise ConfigError(
                f"the guide {name} does not run on {side}-pixel crops ({' '.join(str(exc).split())[:200]}); "
                "give --crop its own input side"
            ) from None

    def __call__(self, x: F32) -> F32:
        try:
            out: F32 = self.session.run(["logits"], {"input": x})[0]
        except Exception as exc:  # ORT's own exception types
            raise GraphError(
                f"ONNX Runtime failed running the guide: {' '.join(str(exc).split())[:300]}"
            ) from None
        return out


__all__ = ["GuideLogits", "guide_model"]
