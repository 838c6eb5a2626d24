"""Loss heads: per-sample losses [N] *to ascend* and their gradient dLoss/dZ on logits Z [N, K].

``label`` is the model's class index (0-based, i.e. TF-Slim label − 1 for 1000-class models); −1 stands
for the model's own prediction at the input (:func:`own_label`). The graph's scalar objective is the
sum over the batch, so a sample's gradient does not depend on N.

* ``ce``: CE(Z, y), ascended by untargeted attacks; dZ = softmax(Z) − onehot(y).
* ``ce-targeted``: −CE(Z, t); dZ = onehot(t) − softmax(Z).
* ``cw``: min(max_{j≠y} z_j − z_y, κ); dZ = (onehot(j*) − onehot(y))·[m < κ].
* ``cw-targeted``: min(z_t − max_{j≠t} z_j, κ); dZ = (onehot(t) − onehot(j*))·[m < κ].
* ``seed``: ⟨seed, Z⟩ with a runtime input ``seed`` [N, K]; dZ = seed (a VJP of the logits).
* ``l1``: Σ_k |z_k − t_k| with a runtime input ``target`` [N, K]; dZ = sign(Z − T) (0 at a tie). A loss
  to *descend*: HGD's guided-denoiser loss between the logits of the denoised and the clean image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from advengine.errors import ParameterError
from advengine.graph.builder import GraphBuilder

LOSSES = ("ce", "ce-targeted", "cw", "cw-targeted", "seed", "l1")
#: Heads that read a runtime [N, K] tensor instead of ``label``, and that tensor's input name.
_TENSOR_INPUTS = {"seed": "seed", "l1": "target"}


@dataclass
class Head:
    loss: str  # per-sample loss [N]
    dz: str  # dLoss/dZ [N, K]


def check_loss(loss: str) -> None:
    if loss not in LOSSES:
        raise ParameterError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")


def own_label(b: GraphBuilder, logits: str) -> str:
    """The graph input ``label`` with every negative entry replaced by the argmax of ``logits`` (first
    maximum): label −1 asks for the model's own prediction at this input, so an attack's first step can
    both find the labels and use them, without a forward pass of its own."""
    own = b.op("ArgMax", [logits], "own_label", axis=1, keepdims=0)
    return b.op("Where", [b.op("Less", ["label", b.const(0, np.int64)]), own, "label"], "label_used")


def build_head(
    b: GraphBuilder, loss: str, z: str, num_classes: int, kappa: float, label: str = "label"
) -> Head:
    """Adds the head for logits ``z``; reads ``label`` (int64 [N], by default the graph input) or the
    graph input ``seed`` or ``target``."""
    check_loss(loss)
    if loss == "seed":
        return Head(b.op("ReduceSum", [b.mul("seed", z), b.ints([1])], "loss", keepdims=0), "seed")
    if loss == "l1":
        diff = b.op("Sub", [z, "target"])
        return Head(
            b.op("ReduceSum", [b.op("Abs", [diff]), b.ints([1])], "loss", keepdims=0),
            b.op("Sign", [diff], "dz"),
        )
    onehot = b.op("OneHot", [label, b.ints([num_classes]), b.const([0.0, 1.0])], "onehot", axis=-1)
    if loss in ("ce", "ce-targeted"):
        log_p = b.op("LogSoftmax", [z], axis=1)
        picked = b.op("ReduceSum", [b.mul(onehot, log_p), b.ints([1])], keepdims=0)
        p = b.op("Softmax", [z], axis=1)
        if loss == "ce":
            return Head(b.op("Neg", [picked], "loss"), b.op("Sub", [p, onehot], "dz"))
        return Head(picked, b.op("Sub", [onehot, p], "dz"))
    # C&W margin: the best other class j* is found with the label's logit masked to −inf.
    is_label = b.op("Cast", [onehot], to=onnx.TensorProto.BOOL)
    masked = b.op("Where", [is_label, b.const(-np.inf), z])
    best_other = b.op("ReduceMax", [masked, b.ints([1])], keepdims=0)
    j_star = b.op("ArgMax", [masked], axis=1, keepdims=0)
    z_label = b.op("ReduceSum", [b.mul(onehot, z), b.ints([1])], keepdims=0)
    onehot_j = b.op("OneHot", [j_star, b.ints([num_classes]), b.const([0.0, 1.0])], "onehot_other", axis=-1)
    k = b.const(float(kappa), hint="kappa")
    if loss == "cw":
        margin, direction = b.op("Sub", [best_other, z_label]), b.op("Sub", [onehot_j, onehot])
    else:
        margin, direction = b.op("Sub", [z_label, best_other]), b.op("Sub", [onehot, onehot_j])
    active = b.op("Cast", [b.op("Less", [margin, k])], to=onnx.TensorProto.FLOAT)
    dz = b.mul(direction, b.op("Unsqueeze", [active, b.ints([1])]))
    return Head(b.op("Min", [margin, k], "loss"), dz)


def uses_label(loss: str) -> bool:
    """Whether the head reads the int64 input ``label`` (the others read a float [N, K] tensor)."""
    return loss not in _TENSOR_INPUTS


def head_inputs(loss: str, batch: int, num_classes: int) -> list[onnx.ValueInfoProto]:
    if loss in _TENSOR_INPUTS:
        # K stays symbolic: where onnx's shape inference disagrees with ORT's kernels (MaxPool ceil_mode
        # windows that start in the padding), a static K would make ORT refuse the graph.
        name = _TENSOR_INPUTS[loss]
        return [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [batch, "classes"])]
    return [helper.make_tensor_value_info("label", onnx.TensorProto.INT64, [batch])]


__all__ = ["LOSSES", "Head", "build_head", "check_loss", "head_inputs", "own_label", "uses_label"]
