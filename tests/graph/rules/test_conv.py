"""Conv VJP = ConvTranspose with explicit pads and output_padding, against float64 finite differences."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from ..conftest import check_vjp, make_model, rand


@st.composite
def conv_configs(draw: st.DrawFn) -> dict[str, object]:
    groups_kind = draw(st.sampled_from(["dense", "depthwise", "grouped"]))
    cin = draw(st.sampled_from([2, 4]))
    if groups_kind == "dense":
        group, cout = 1, draw(st.integers(1, 3))
    elif groups_kind == "depthwise":
        group, cout = cin, cin
    else:
        group, cout = 2, 4
    k = draw(st.sampled_from([1, 2, 3, 5]))
    stride = draw(st.integers(1, 3))
    dil = draw(st.integers(1, 2))
    pads_kind = draw(st.sampled_from(["sym", "asym", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if pads_kind.startswith("SAME"):
        dil = 1  # ORT's forward Conv rejects dilation with SAME auto_pad
    size = draw(st.integers(max(k * dil, 5), 13))
    width = draw(st.integers(max(k * dil, 5), 13))
    attrs: dict[str, object] = {"group": group, "strides": [stride, stride], "dilations": [dil, dil]}
    if pads_kind == "sym":
        p = draw(st.integers(0, k))
        attrs["pads"] = [p, p, p, p]
    elif pads_kind == "asym":
        attrs["pads"] = [draw(st.integers(0, k)) for _ in range(4)]
    else:
        attrs["auto_pad"] = pads_kind
    return {
        "cin": cin,
        "cout": cout,
        "k": k,
        "h": size,
        "w": width,
        "attrs": attrs,
        "bias": draw(st.booleans()),
    }


@settings(max_examples=40)
@given(cfg=conv_configs(), seed=st.integers(0, 2**16))
def test_conv_matches_finite_differences(cfg: dict[str, object], seed: int) -> None:
    rng = np.random.default_rng(seed)
    cin, cout, k = int(cfg["cin"]), int(cfg["cout"]), int(cfg["k"])  # type: ignore[call-overload]
    attrs = dict(cfg["attrs"])  # type: ignore[call-overload]
    inits = {"w": rand(rng, cout, cin // int(attrs["group"]), k, k)}
    inputs = ["input", "w"]
    if cfg["bias"]:
        inits["b"] = rand(rng, cout)
        inputs.append("b")
    node = helper.make_node("Conv", inputs, ["y"], kernel_shape=[k, k], **attrs)
    x = rand(rng, 2, cin, int(cfg["h"]), int(cfg["w"]))  # type: ignore[call-overload]
    model = make_model([node], x.shape, inits)
    check_vjp(model, x, directions=1, rng=rng, rtol=1e-4)


def test_asymmetric_pads_stride_two_adjoint() -> None:
    """The configuration onnx-ad gets wrong (TF-style SAME export: stride 2, pads [0,1,1,0])."""
    rng = np.random.default_rng(3)
    node = helper.make_node(
        "Conv", ["input", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 1, 0]
    )
    x = rand(rng, 1, 3, 8, 9)
    check_vjp(make_model([node], x.shape, {"w": rand(rng, 4, 3, 3, 3)}), x, directions=3, rng=rng, rtol=1e-5)
