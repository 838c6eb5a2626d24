"""DUNET, the denoiser of HGD (Liao et al. 2018, "Defense against adversarial attacks using high-level
representation guided denoiser", the NIPS 2017 defense winner), as an ONNX graph written with
``onnx.helper`` (no torch).

An encoder–decoder with lateral connections that predicts the *perturbation*: the output is
x̂ = x − D(x). Sized for CPU training (docs/hgd.md):

* encoder: one 3×3 conv + ReLU per level; level 1 keeps the input side, every further level halves
  it with stride 2 (``channels[i]`` filters at level i), then one more 3×3 conv + ReLU at the bottom;
* decoder: from the bottom up, the coarser map is upsampled ×2 (``Resize``, linear, half-pixel),
  cropped to the lateral map's side where the side was odd, concatenated with the encoder map of
  that level (the lateral connection) and fused by a 3×3 conv + ReLU to ``channels[i]``; at level 1
  that conv has 3 outputs and no ReLU: it is D(x);
* no batch norm (the report's DUNET has it; with batches of a few images on a CPU it would only add
  noise), biases everywhere.

Weights are He-initialised (normal, std √(2/fan_in)) from a seed, except the output conv, which
starts at zero so that the untrained denoiser is the identity (x̂ = x): training starts from the
undefended classifier instead of from noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from advengine.errors import ModelError, ParameterError
from advengine.models.onnx_graph import IR_VERSION, OPSET

F32 = npt.NDArray[np.float32]
#: Tensor names of the denoiser graph (the composed classifier prefixes them).
INPUT = "input"
OUTPUT = "denoised"
PREFIX = "dunet."
KERNEL = 3
#: Defaults sized for the 2-core CPU budget of issue 17 (docs/hgd.md has the measured step times).
DEFAULT_CHANNELS = (8, 16, 32, 64)


@dataclass(frozen=True)
class DunetConfig:
    """The denoiser's shape: input side, channels per level (their number is the number of levels)."""

    size: int = 260
    channels: tuple[int, ...] = DEFAULT_CHANNELS

    def __post_init__(self) -> None:
        if len(self.channels) < 2:
            raise ParameterError(f"DUNET needs at least 2 levels, got channels {list(self.channels)}")
        if any(c < 1 for c in self.channels):
            raise ParameterError(f"DUNET channels must be positive, got {list(self.channels)}")
        if self.size < 2 ** len(self.channels):
            raise ParameterError(
                f"DUNET input side {self.size} is too small for {len(self.channels)} levels "
                f"(at least {2 ** len(self.channels)})"
            )

    @property
    def levels(self) -> int:
        return len(self.channels)

    def sides(self) -> list[int]:
        return unet_sides(self.size, self.levels)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, in graph order."""
        return conv_shapes(unet_convs(self.channels, 3, 3))


def unet_sides(size: int, levels: int) -> list[int]:
    """The feature-map side of every level (stride 2, pad 1, kernel 3: ⌈s / 2⌉)."""
    out = [size]
    for _ in range(levels - 1):
        out.append((out[-1] + 1) // 2)
    return out


def unet_convs(channels: tuple[int, ...], cin: int, cout: int) -> list[tuple[str, int, int]]:
    """(name, in, out) of every 3×3 conv of the encoder–decoder, in graph order: ``cin`` input
    channels, ``cout`` outputs of the last decoder conv (shared by DUNET and the attack FCN)."""
    c = channels
    convs: list[tuple[str, int, int]] = [("enc1", cin, c[0])]
    convs += [(f"enc{i + 1}", c[i - 1], c[i]) for i in range(1, len(c))]
    convs.append(("bottom", c[-1], c[-1]))
    for i in range(len(c) - 2, -1, -1):  # decoder level i+1 fuses level i+2's output with enc(i+1)
        convs.append((f"dec{i + 1}", c[i + 1] + c[i], cout if i == 0 else c[i]))
    return convs


def conv_shapes(
    convs: list[tuple[str, int, int]], *, prefix: str = PREFIX, kernel: int = KERNEL
) -> dict[str, tuple[int, ...]]:
    """Weight and bias shapes of ``convs`` under ``prefix``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, cin, cout in convs:
        shapes[f"{prefix}{name}.weight"] = (cout, cin, kernel, kernel)
        shapes[f"{prefix}{name}.bias"] = (cout,)
    return shapes


def he_normal(shape: tuple[int, ...], rng: np.random.Generator) -> F32:
    """He-normal weights (std √(2/fan_in)) for a conv of ``shape``."""
    fan_in = int(np.prod(shape[1:]))
    out: F32 = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return out


def output_conv(config: DunetConfig) -> str:
    """The name prefix of the conv that produces D(x) (zero at initialisation)."""
    return f"{PREFIX}dec1"


def init_params(config: DunetConfig, seed: int) -> dict[str, F32]:
    """He-normal weights and zero biases from ``seed``; the output conv is zero (identity denoiser)."""
    rng = np.random.default_rng(seed)
    out: dict[str, F32] = {}
    last = output_conv(config)
    for name, shape in config.shapes().items():
        if name.endswith(".bias") or name.startswith(last + "."):
            out[name] = np.zeros(shape, np.float32)
        else:
            out[name] = he_normal(shape, rng)
    return out


class GraphWriter:
    """Nodes and constants of a graph being written; convs read ``PREFIX<name>.weight/.bias``."""

    def __init__(self, prefix: str = PREFIX) -> None:
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def constant(self, name: str, value: npt.NDArray[np.generic]) -> str:
        self.constants.append(numpy_helper.from_array(value, name))
        return name

    def conv(self, x: str, name: str, *, stride: int = 1, relu: bool = True, kernel: int = KERNEL) -> str:
        pad = kernel // 2
        y = self.node(
            "Conv",
            [x, f"{self.prefix}{name}.weight", f"{self.prefix}{name}.bias"],
            f"{self.prefix}{name}.out",
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
        )
        return self.node("Relu", [y], f"{self.prefix}{name}.relu") if relu else y


def build_dunet(config: DunetConfig, params: dict[str, F32]) -> onnx.ModelProto:
    """The denoiser: ``input`` float32 [N, 3, S, S] → ``denoised`` = input − D(input), same shape."""
    shapes = config.shapes()
    check_weights("DUNET", config.channels, shapes, params)
    w = GraphWriter()
    up = unet(w, INPUT, config.levels, config.sides(), out_relu=False)
    w.node("Sub", [INPUT, up], OUTPUT)
    return finish_model(
        w, "dunet", "dunet", (3, 3), config.size, config.channels, {n: params[n] for n in shapes}
    )


def check_weights(
    what: str, channels: tuple[int, ...], shapes: dict[str, tuple[int, ...]], params: dict[str, F32]
) -> None:
    """A ModelError naming the first weight of ``params`` that ``shapes`` lacks, wants, or shapes
    otherwise."""
    missing = sorted(set(shapes) - set(params))
    extra = sorted(set(params) - set(shapes))
    if missing or extra:
        raise ModelError(
            f"{what} weights do not fit channels {list(channels)}: "
            + (f"missing {missing[0]}" if missing else f"unexpected {extra[0]}")
        )
    for name, shape in shapes.items():
        if tuple(params[name].shape) != shape:
            raise ModelError(
                f"{what} weight {name} has shape {list(params[name].shape)}, expected {list(shape)}"
            )


def finish_model(
    w: GraphWriter,
    name: str,
    key: str,
    planes: tuple[int, int],
    size: int,
    channels: tuple[int, ...],
    weights: dict[str, F32],
) -> onnx.ModelProto:
    """The checked model of the nodes ``w`` wrote: ``input`` [N, planes[0], S, S] → ``w``'s last
    output [N, planes[1], S, S], the ``weights`` as initializers, and ``advengine.<key>.channels``
    and ``.size`` properties (``key``: what :func:`read_props` reads back)."""
    inits = [numpy_helper.from_array(np.ascontiguousarray(v, np.float32), k) for k, v in weights.items()]
    out = w.nodes[-1].output[0]
    graph = helper.make_graph(
        w.nodes,
        name,
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", planes[0], size, size])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", planes[1], size, size])],
        initializer=[*inits, *w.constants],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="advengine"
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(
        model, {f"advengine.{key}.channels": ",".join(map(str, channels)), f"advengine.{key}.size": str(size)}
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def read_props(model: onnx.ModelProto, key: str, what: str) -> tuple[tuple[int, ...], int, dict[str, F32]]:
    """(channels, size, initializers) of a model :func:`finish_model` wrote as ``key``."""
    props = {p.key: p.value for p in model.metadata_props}
    try:
        channels = tuple(int(c) for c in props[f"advengine.{key}.channels"].split(","))
        size = int(props[f"advengine.{key}.size"])
    except (KeyError, ValueError):
        raise ModelError(f"not {what} written by advengine (no advengine.{key}.* properties)") from None
    # Copies: ONNX hands out read-only arrays, and a trainer starting from them updates them in place.
    weights = {t.name: np.array(numpy_helper.to_array(t), np.float32) for t in model.graph.initializer}
    return channels, size, weights


def unet(w: GraphWriter, x: str, levels: int, sides: list[int], *, out_relu: bool) -> str:
    """The encoder–decoder of :func:`unet_convs` on ``x``; returns the last decoder conv's output
    (through a ReLU if ``out_relu``)."""
    enc = [w.conv(x, "enc1")]
    for i in range(1, levels):
        enc.append(w.conv(enc[-1], f"enc{i + 1}", stride=2))
    up = w.conv(enc[-1], "bottom")
    scales = w.constant(f"{w.prefix}up.scales", np.array([1.0, 1.0, 2.0, 2.0], np.float32))
    for i in range(levels - 2, -1, -1):
        level = f"{w.prefix}dec{i + 1}"
        y = w.node(
            "Resize",
            [up, "", scales],
            f"{level}.up",
            mode="linear",
            coordinate_transformation_mode="half_pixel",
        )
        if 2 * sides[i + 1] != sides[i]:  # an odd side: ⌈s/2⌉·2 = s + 1, crop the extra row/column
            ends = w.constant(f"{level}.crop.ends", np.array([sides[i], sides[i]], np.int64))
            starts = w.constant(f"{level}.crop.starts", np.array([0, 0], np.int64))
            axes = w.constant(f"{level}.crop.axes", np.array([2, 3], np.int64))
            y = w.node("Slice", [y, starts, ends, axes], f"{level}.crop")
        cat = w.node("Concat", [y, enc[i]], f"{level}.cat", axis=1)
        up = w.conv(cat, f"dec{i + 1}", relu=i > 0 or out_relu)
    return up


def read_dunet(model: onnx.ModelProto) -> tuple[DunetConfig, dict[str, F32]]:
    """The config and weights of a denoiser written by :func:`build_dunet` (from its properties)."""
    channels, size, weights = read_props(model, "dunet", "a DUNET")
    config = DunetConfig(size, channels)
    return config, {n: weights[n] for n in config.shapes() if n in weights}


__all__ = [
    "DEFAULT_CHANNELS",
    "INPUT",
    "KERNEL",
    "OUTPUT",
    "PREFIX",
    "DunetConfig",
    "GraphWriter",
    "build_dunet",
    "check_weights",
    "conv_shapes",
    "finish_model",
    "he_normal",
    "init_params",
    "output_conv",
    "read_dunet",
    "read_props",
    "unet",
    "unet_convs",
    "unet_sides",
]
