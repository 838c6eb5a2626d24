"""Bilinear resizing of model inputs (299 -> a model's native size), as the reference measured it.

The reference accuracies were measured with PyTorch ``F.interpolate(x, size, mode="bilinear",
align_corners=False)`` (no antialiasing) on float images in [0, 1]: output pixel ``o`` samples source
coordinate ``(o + 0.5)·in/out − 0.5`` (clamped at 0) from its two neighbours. That is exactly ONNX
``Resize(mode="linear", coordinate_transformation_mode="pytorch_half_pixel")``, which runs here as a
one-node ONNX Runtime session: about 13× faster on CPU than the same gather arithmetic in numpy.
Pillow's BILINEAR is *not* the same when shrinking (it widens the filter, i.e. antialiases).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.errors import ParameterError, ShapeError


@functools.lru_cache(maxsize=4)
def _session(threads: int | None) -> Any:
    import onnx  # deferred: importing onnx costs about 1 s (its ml_dtypes extension)
    import onnxruntime as ort  # deferred: importing onnxruntime costs ~0.3 s
    from onnx import TensorProto, helper

    from advengine.models.onnx_graph import IR_VERSION, OPSET

    node = helper.make_node(
        "Resize",
        ["x", "", "", "sizes"],
        ["y"],
        mode="linear",
        coordinate_transformation_mode="pytorch_half_pixel",
    )
    graph = helper.make_graph(
        [node],
        "resize_bilinear",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "C", "H", "W"]),
            helper.make_tensor_value_info("sizes", TensorProto.INT64, [4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "C", "OH", "OW"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def resize_bilinear(
    x: npt.ArrayLike, size: int | tuple[int, int], *, threads: int | None = None
) -> npt.NDArray[np.float32]:
    """Resize a float32 NCHW batch to ``size`` (side, or (height, width)); a copy if already that size."""
    arr: npt.NDArray[Any] = np.asarray(x)
    if arr.dtype != np.float32 or arr.ndim != 4:
        raise ShapeError(
            f"resize_bilinear needs a float32 [n, c, h, w] array, got {arr.dtype} {list(arr.shape)}"
        )
    oh, ow = (size, size) if isinstance(size, int) else size
    if oh < 1 or ow < 1:
        raise ParameterError(f"resize size must be positive, got {oh}x{ow}")
    n, c, h, w = arr.shape
    if (h, w) == (oh, ow):
        return arr.copy()
    if n == 0:
        return np.zeros((0, c, oh, ow), dtype=np.float32)
    sizes = np.array([n, c, oh, ow], dtype=np.int64)
    out = _session(threads).run(None, {"x": np.ascontiguousarray(arr), "sizes": sizes})[0]
    return np.asarray(out, dtype=np.float32)


__all__ = ["resize_bilinear"]
