"""Resize as an explicit linear map. ONNX Resize (nearest, linear, cubic) is separable, so along one
axis it is a constant matrix R [out, in]; we read R off ORT's own Resize by pushing an identity through
it, which makes the matrix match the runtime's coordinate conventions exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from advengine.errors import GraphError

#: Attributes that change how one axis is interpolated; copied from the model's node into the probe.
_AXIS_ATTRS = (
    "mode",
    "coordinate_transformation_mode",
    "cubic_coeff_a",
    "exclude_outside",
    "nearest_mode",
    "antialias",
)


def interpolation_matrix(
    length: int, out_len: int, resize_attrs: dict[str, Any], scale: float | None = None
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The [out_len, length] matrix of a Resize along one axis (``scale`` if the node gives scales,
    else the output size defines it, as in ONNX)."""
    kept = {k: v for k, v in resize_attrs.items() if k in _AXIS_ATTRS}
    if kept.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        raise GraphError("Resize with coordinate_transformation_mode=tf_crop_and_resize has no gradient rule")
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [length, 1, length, 1])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    inits = []
    if scale is not None:
        inits.append(helper.make_tensor("scales", onnx.TensorProto.FLOAT, [4], [1.0, 1.0, float(scale), 1.0]))
        inputs = ["x", "", "scales"]
    else:
        inits.append(helper.make_tensor("sizes", onnx.TensorProto.INT64, [4], [length, 1, out_len, 1]))
        inputs = ["x", "", "", "sizes"]
    node = helper.make_node("Resize", inputs, ["y"], **kept)
    graph = helper.make_graph([node], "resize_probe", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    eye = np.eye(length, dtype=np.float32).reshape(length, 1, length, 1)
    out = sess.run(None, {"x": eye})[0]
    if out.shape[2] != out_len:
        raise GraphError(f"Resize probe produced {out.shape[2]} rows instead of {out_len}")
    return np.ascontiguousarray(out[:, 0, :, 0].T.astype(np.float32))


def bilinear_matrix(length: int, out_len: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Bilinear resize with half-pixel centres and no antialias (PyTorch align_corners=False, TF2)."""
    return interpolation_matrix(
        length, out_len, {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    )


__all__ = ["bilinear_matrix", "interpolation_matrix"]
