"""The built EfficientNet-Lite graph against an independent numpy forward pass of the raw weights
(BatchNorm not folded, padding with np.pad, convolutions by im2col/einsum), plus architecture checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from advengine.data import load_dataset, to_model_input
from advengine.errors import CheckpointError
from advengine.models import ensure_onnx, get_manifest, load_classifier, load_state_dict
from advengine.models.build import weight_file_path
from advengine.models.efficientnet_lite import block_specs, build_efficientnet_lite, round_filters

# ---- an independent numpy EfficientNet-Lite0 -------------------------------------------------------

LITE0_REPEATS = [1, 2, 2, 3, 3, 4, 1]
LITE0_STRIDES = [1, 2, 2, 2, 1, 2, 1]


def _same_pad(x: np.ndarray, k: int, s: int) -> np.ndarray:
    h = x.shape[2]
    out = -(-h // s)
    total = max((out - 1) * s + k - h, 0)
    before = total // 2
    return np.pad(x, ((0, 0), (0, 0), (before, total - before), (before, total - before)))


def _patches(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """[n, c, k, k, oh, ow] windows of an already padded input."""
    oh = (x.shape[2] - k) // s + 1
    ow = (x.shape[3] - k) // s + 1
    rows = [
        np.stack([x[:, :, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s] for j in range(k)], 2)
        for i in range(k)
    ]
    return np.stack(rows, 2)


def _conv(x: np.ndarray, w: np.ndarray, s: int = 1, depthwise: bool = False) -> np.ndarray:
    k = w.shape[-1]
    p = _patches(_same_pad(x, k, s), k, s)
    if depthwise:
        return np.einsum("nckluv,ckl->ncuv", p, w[:, 0])
    return np.einsum("nckluv,dckl->nduv", p, w)


def _bn(x: np.ndarray, sd: dict[str, np.ndarray], p: str) -> np.ndarray:
    g, b, m, v = (
        sd[f"{p}.{n}"].astype(np.float64) for n in ("weight", "bias", "running_mean", "running_var")
    )
    return (x - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-3) * g[:, None, None] + b[:, None, None]


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def numpy_lite0(sd: dict[str, np.ndarray], x01: np.ndarray) -> np.ndarray:
    w = {k: v.astype(np.float64) for k, v in sd.items()}
    x = (x01.astype(np.float64) * 255.0 - 127.0) / 128.0
    x = _relu6(_bn(_conv(x, w["_conv_stem.weight"], 2), w, "_bn0"))
    strides = [
        s if r == 0 else 1 for n, s in zip(LITE0_REPEATS, LITE0_STRIDES, strict=True) for r in range(n)
    ]
    for i, s in enumerate(strides):
        p = f"_blocks.{i}"
        inp = x
        if f"{p}._expand_conv.weight" in w:
            x = _relu6(_bn(_conv(x, w[f"{p}._expand_conv.weight"]), w, f"{p}._bn0"))
        x = _relu6(_bn(_conv(x, w[f"{p}._depthwise_conv.weight"], s, depthwise=True), w, f"{p}._bn1"))
        x = _bn(_conv(x, w[f"{p}._project_conv.weight"]), w, f"{p}._bn2")
        if s == 1 and x.shape[1] == inp.shape[1]:
            x = x + inp
    x = _relu6(_bn(_conv(x, w["_conv_head.weight"]), w, "_bn1"))
    return x.mean(axis=(2, 3)) @ w["_fc.weight"].T + w["_fc.bias"]


# ---- tests ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("zoo_env")
def test_onnx_matches_numpy_forward_on_real_images(dev_dir: Path) -> None:
    m = get_manifest("efficientnet-lite0")
    sd = load_state_dict(weight_file_path(m), sha256=m.sha256)
    ds = load_dataset(dev_dir).head(2)
    clf = load_classifier("efficientnet-lite0")
    x = clf.prepare(to_model_input(ds.read_images()))
    ours = clf.logits(x)
    ref = numpy_lite0(sd, x)
    assert ours.shape == (2, 1000)
    np.testing.assert_allclose(ours, ref, atol=1e-4 * np.abs(ref).max(), rtol=0)
    np.testing.assert_array_equal(ours.argmax(1), ref.argmax(1))
    assert ds.true_labels is not None
    np.testing.assert_array_equal(clf.predict(x), ref.argmax(1) + 1)


@pytest.mark.usefixtures("zoo_env")
@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
def test_built_graph_follows_the_contract(name: str) -> None:
    model = onnx.load(str(ensure_onnx(name)))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 17
    assert {o.domain for o in model.opset_import} == {""}
    assert {n.op_type for n in model.graph.node} <= {
        "Conv", "Clip", "Add", "GlobalAveragePool", "Flatten", "Gemm", "Mul", "Sub",
    }  # fmt: skip
    assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)
    size = get_manifest(name).input_size
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert [model.graph.input[0].name, *dims] == ["input", "N", 3, size, size]
    out = [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert [model.graph.output[0].name, *out] == ["logits", "N", 1000]
    for n in model.graph.node:
        if n.op_type == "Conv":
            attrs = {a.name for a in n.attribute}
            assert "auto_pad" not in attrs
            assert "pads" in attrs


def test_scaling_rules_match_the_published_block_counts() -> None:
    assert len(block_specs(1.0, 1.0)) == 16
    assert len(block_specs(1.0, 1.1)) == 21
    assert len(block_specs(1.1, 1.2)) == 21
    assert [round_filters(c, 1.1) for c in (16, 24, 40, 80, 112, 192, 320)] == [16, 24, 48, 88, 120, 208, 352]
    lite2 = block_specs(1.1, 1.2)
    assert lite2[0].in_channels == 32  # the stem is not width-scaled
    assert lite2[-1].out_channels == 352


def test_stem_padding_is_asymmetric_tf_same() -> None:
    model = _build(_lite0_state())
    stem = next(n for n in model.graph.node if n.op_type == "Conv")
    pads = next(a for a in stem.attribute if a.name == "pads").ints
    assert list(pads) == [0, 0, 1, 1]  # 224 -> 112 with k3 s2: the one padded pixel goes after


def _lite0_state() -> dict[str, np.ndarray]:
    m = get_manifest("efficientnet-lite0")
    return load_state_dict(weight_file_path(m))


def _build(sd: dict[str, np.ndarray], width: float = 1.0, depth: float = 1.0) -> onnx.ModelProto:
    return build_efficientnet_lite(
        sd, width=width, depth=depth, input_size=224, scale=255.0, mean=[127.0] * 3, std=[128.0] * 3,
        name="t", source="w.pth",
    )  # fmt: skip


def test_wrong_width_fails_loudly() -> None:
    with pytest.raises(CheckpointError, match=r"does not fit EfficientNet-Lite: .* has shape"):
        _build(_lite0_state(), width=1.1)


def test_wrong_depth_fails_loudly() -> None:
    with pytest.raises(CheckpointError, match="does not fit EfficientNet-Lite"):
        _build(_lite0_state(), depth=1.2)


def test_missing_and_extra_tensors_fail_loudly() -> None:
    sd = _lite0_state()
    del sd["_blocks.3._bn1.running_var"]
    with pytest.raises(CheckpointError, match=r"_blocks\.3\._bn1\.running_var .* is missing"):
        _build(sd)
    sd = _lite0_state()
    sd["_blocks.0._se_reduce.weight"] = np.zeros((8, 32, 1, 1), np.float32)
    with pytest.raises(CheckpointError, match="1 unexpected tensors"):
        _build(sd)


def test_ceil_depth_rounding() -> None:
    # depth 1.1 turns the 2-, 3- and 4-repeat stages into ceil(2.2)=3, ceil(3.3)=4, ceil(4.4)=5.
    specs = block_specs(1.0, 1.1)
    strided = [i for i, s in enumerate(specs) if s.stride == 2]
    assert strided == [1, 4, 7, 15]
    assert len(specs) - strided[-1] == 6  # 5 blocks of stage 6, then the unscaled last stage
