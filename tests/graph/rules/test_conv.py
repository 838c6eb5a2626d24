"""Conv VJP = ConvTranspose with explicit pads and output_padding; Conv and ConvTranspose weight and
bias gradients; ConvTranspose as a forward op. All against float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from advengine.errors import GraphError
from advengine.graph import compile_gradient_graph

from ..conftest import Array, check_param_vjp, check_vjp, make_model, rand, seed_grad, session


def channel_layout(draw: st.DrawFn) -> tuple[int, int, int]:
    """(input channels, output channels, group): dense, depthwise or grouped."""
    groups_kind = draw(st.sampled_from(["dense", "depthwise", "grouped"]))
    cin = draw(st.sampled_from([2, 4]))
    if groups_kind == "dense":
        return cin, draw(st.integers(1, 3)), 1
    if groups_kind == "depthwise":
        return cin, cin, cin
    return cin, 4, 2


@st.composite
def conv_configs(draw: st.DrawFn) -> dict[str, object]:
    cin, cout, group = channel_layout(draw)
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


@settings(max_examples=25)
@given(cfg=conv_configs(), input_grad=st.booleans(), seed=st.integers(0, 2**16))
def test_conv_parameter_gradients_match_finite_differences(
    cfg: dict[str, object], input_grad: bool, seed: int
) -> None:
    """dW (one grouped Conv with batch and channels swapped) and db, for every stride, dilation, pad
    and group layout of the input-gradient test."""
    rng = np.random.default_rng(seed)
    cin, cout, k = int(cfg["cin"]), int(cfg["cout"]), int(cfg["k"])  # type: ignore[call-overload]
    attrs = dict(cfg["attrs"])  # type: ignore[call-overload]
    inits = {"w": rand(rng, cout, cin // int(attrs["group"]), k, k), "b": rand(rng, cout)}
    node = helper.make_node("Conv", ["input", "w", "b"], ["y"], kernel_shape=[k, k], **attrs)
    x = rand(rng, 2, cin, int(cfg["h"]), int(cfg["w"]))  # type: ignore[call-overload]
    check_param_vjp(make_model([node], x.shape, inits), x, ["w", "b"], rng=rng, input_grad=input_grad)


@pytest.mark.parametrize("spatial", [(7,), (4, 5, 6)], ids=["1d", "3d"])
def test_conv_weight_gradient_other_ranks(spatial: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(spatial))
    n = len(spatial)
    kernel = [3] * n
    node = helper.make_node(
        "Conv", ["input", "w", "b"], ["y"], kernel_shape=kernel, strides=[2] * n, pads=[1] * n + [0] * n
    )
    x = rand(rng, 2, 4, *spatial)
    inits = {"w": rand(rng, 3, 4, *kernel), "b": rand(rng, 3)}
    check_param_vjp(make_model([node], x.shape, inits), x, ["w", "b"], rng=rng)


def test_runtime_weight_takes_the_conv_transpose_path() -> None:
    """A trained weight is an input, so the stride-1 fast path (a Conv with the kernel flipped at
    export) must not be used for dX: the gradient follows the weight fed at run time."""
    rng = np.random.default_rng(9)
    node = helper.make_node("Conv", ["input", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    x = rand(rng, 1, 2, 5, 5)
    model = make_model([node], x.shape, {"w": rand(rng, 3, 2, 3, 3)})
    compiled = compile_gradient_graph(model, loss="seed", batch=1, wrt_params=["w"])
    assert "ConvTranspose" in {n.op_type for n in compiled.graph.node}
    other = rand(rng, 3, 2, 3, 3)
    seed = rand(rng, 1, 75)
    got = session(compiled).run(["grad"], {"input": x, "seed": seed, "w": other})[0]
    want = seed_grad(make_model([node], x.shape, {"w": other}), x, seed)[1]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def conv_transpose_reference(x: Array, w: Array, b: Array, attrs: dict[str, list[int] | int]) -> Array:
    """ConvTranspose in float64 numpy, straight from the spec (onnx.reference's grouped form is wrong):
    each input pixel scatters its kernel·value into the full output, which is then cut by the pads."""
    group = int(attrs.get("group", 1))  # type: ignore[arg-type]
    s = list(attrs.get("strides", [1, 1]))  # type: ignore[arg-type]
    d = list(attrs.get("dilations", [1, 1]))  # type: ignore[arg-type]
    p = list(attrs.get("pads", [0, 0, 0, 0]))  # type: ignore[arg-type]
    op = list(attrs.get("output_padding", [0, 0]))  # type: ignore[arg-type]
    n, cin, hh, ww = x.shape
    cout_g, kh, kw = w.shape[1:]
    full_h = (hh - 1) * s[0] + (kh - 1) * d[0] + 1 + op[0]
    full_w = (ww - 1) * s[1] + (kw - 1) * d[1] + 1 + op[1]
    full = np.zeros((n, cout_g * group, full_h, full_w))
    cin_g = cin // group
    for g in range(group):
        xs, wg = x[:, g * cin_g : (g + 1) * cin_g], w[g * cin_g : (g + 1) * cin_g]
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * d[0], i * d[0] + (hh - 1) * s[0] + 1, s[0])
                cols = slice(j * d[1], j * d[1] + (ww - 1) * s[1] + 1, s[1])
                full[:, g * cout_g : (g + 1) * cout_g, rows, cols] += np.einsum(
                    "nchw,co->nohw", xs, wg[:, :, i, j]
                )
    out = full[:, :, p[0] : full_h - p[2], p[1] : full_w - p[3]] + b.reshape(1, -1, 1, 1)
    return out.reshape(n, -1)


@st.composite
def conv_transpose_configs(draw: st.DrawFn) -> dict[str, object]:
    cin, cout, group = channel_layout(draw)
    k = draw(st.sampled_from([1, 2, 3, 4]))
    strides = [draw(st.integers(1, 3)) for _ in range(2)]
    dil = [draw(st.integers(1, 2)) for _ in range(2)]
    # ORT wants output_padding below the stride.
    out_pad = [draw(st.integers(0, s - 1)) for s in strides]
    pads = [draw(st.integers(0, (k - 1) * dil[i % 2] // 2)) for i in range(4)]  # output stays non-empty
    attrs: dict[str, object] = {"group": group, "strides": strides, "dilations": dil, "pads": pads}
    if any(out_pad):
        attrs["output_padding"] = out_pad
    return {"cin": cin, "cout": cout, "k": k, "attrs": attrs, "h": draw(st.integers(2, 6))}


@settings(max_examples=30)
@given(cfg=conv_transpose_configs(), seed=st.integers(0, 2**16))
def test_conv_transpose_matches_finite_differences(cfg: dict[str, object], seed: int) -> None:
    """ConvTranspose as a forward op: dX (a Conv with its weight), dW (the Conv weight gradient with
    input and output gradient swapped) and db, against a float64 numpy transcription of the spec."""
    rng = np.random.default_rng(seed)
    cin, cout, k, h = (int(cfg[key]) for key in ("cin", "cout", "k", "h"))  # type: ignore[call-overload]
    attrs = dict(cfg["attrs"])  # type: ignore[call-overload]
    inits = {"w": rand(rng, cin, cout // int(attrs["group"]), k, k), "b": rand(rng, cout)}
    node = helper.make_node("ConvTranspose", ["input", "w", "b"], ["y"], kernel_shape=[k, k], **attrs)
    x = rand(rng, 2, cin, h, h + 1)
    model = make_model([node], x.shape, inits)
    np.testing.assert_allclose(
        session(model).run(None, {"input": x})[0],
        conv_transpose_reference(x.astype(np.float64), inits["w"], inits["b"], attrs),
        rtol=1e-4,
        atol=1e-4,
    )

    def reference(t: Array, values: dict[str, Array]) -> Array:
        return conv_transpose_reference(t, values["w"], values["b"], attrs)

    check_param_vjp(model, x, ["w", "b"], rng=rng, reference=reference, rtol=1e-4)
    baked = {key: v.astype(np.float64) for key, v in inits.items()}
    check_vjp(model, x, directions=1, rng=rng, rtol=1e-4, reference=lambda t: reference(t, baked))


def test_conv_transpose_output_shape_is_refused() -> None:
    node = helper.make_node("ConvTranspose", ["input", "w"], ["y"], strides=[2, 2], output_shape=[8, 8])
    model = make_model([node], (1, 2, 4, 4), {"w": np.ones((2, 2, 3, 3), np.float32)})
    with pytest.raises(GraphError, match="explicit pads"):
        compile_gradient_graph(model, loss="seed", batch=1)
