"""``advengine.models.importer``: wrapping foreign ONNX classifiers into the zoo contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from advengine.errors import ModelError, ParameterError, UnsupportedOpError
from advengine.graph import compile_gradient_graph
from advengine.graph.ensemble import compile_ensemble
from advengine.graph.runner import GradientModel
from advengine.models import ensure_onnx, get_manifest, load_classifier
from advengine.models.importer import WrapOptions, import_model
from advengine.models.onnx_contract import check_onnx_contract

Array = np.ndarray[Any, Any]
F32 = onnx.TensorProto.FLOAT


def foreign(
    tmp_path: Path,
    *,
    batch: int | str = 1,
    size: int | str = 8,
    classes: int = 1000,
    nhwc: bool = False,
    probs: bool = False,
    spatial_output: bool = False,
    opset: int = 18,
    extra: list[onnx.NodeProto] | None = None,
) -> tuple[Path, dict[str, Array]]:
    """A small foreign classifier: input `x` (fixed batch by default), Conv, Relu, GAP, then either a
    1×1 Conv head ([N, K, 1, 1]) or Reshape [batch, -1] + Gemm, optionally a Softmax."""
    rng = np.random.default_rng(0)
    w = {
        "w1": (rng.standard_normal((4, 3, 3, 3)) * 0.5).astype(np.float32),
        "head": (rng.standard_normal((classes, 4, 1, 1)) * 0.5).astype(np.float32),
        "fc": (rng.standard_normal((classes, 4)) * 0.5).astype(np.float32),
    }
    nodes = []
    first = "x"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]))
        first = "x_nchw"
    nodes += [
        helper.make_node("Conv", [first, "w1"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        *(extra or []),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
    ]
    inits = dict(w)
    if spatial_output:
        nodes.append(helper.make_node("Conv", ["g", "head"], ["z"], kernel_shape=[1, 1]))
    else:
        inits["target"] = np.array(
            [batch if isinstance(batch, int) else -1, 4 if batch != -1 else -1], np.int64
        )
        nodes += [
            helper.make_node("Reshape", ["g", "target"], ["flat"]),
            helper.make_node("Gemm", ["flat", "fc"], ["z"], transB=1),
        ]
    out = "z"
    if probs:
        nodes.append(helper.make_node("Softmax", ["z"], ["p"], axis=1))
        out = "p"
    shape = [batch, size, size, 3] if nhwc else [batch, 3, size, size]
    graph = helper.make_graph(
        nodes,
        "foreign",
        [helper.make_tensor_value_info("x", F32, shape)],
        [helper.make_tensor_value_info(out, F32, None)],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7 if opset < 13 else 8
    path = tmp_path / "foreign.onnx"
    onnx.save(model, str(path))
    return path, inits


def run(path: Path, name: str, x: Array) -> Array:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out: Array = sess.run(None, {name: x})[0]
    return out


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)


@pytest.mark.usefixtures("zoo_env")
def test_fixed_batch_model_is_wrapped_normalised_and_registered(tmp_path: Path) -> None:
    path, _ = foreign(tmp_path)
    report = import_model(path, "mine", WrapOptions(size=None))
    assert report.manifest.name == "mine"
    assert get_manifest("mine").input_size == 8
    assert any("fixed batch 1 made symbolic (1 Reshape targets patched)" in n for n in report.notes)
    check_onnx_contract(report.onnx_path, 8)
    x = np.random.default_rng(1).random((3, 3, 8, 8), dtype=np.float32)
    got = run(report.onnx_path, "input", x)
    want = np.concatenate([run(path, "x", (x[i : i + 1] - IMAGENET_MEAN) / IMAGENET_STD) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # The registered model is a zoo model: the classifier, and an attack source at 299 (resized inside).
    assert ensure_onnx("mine") == report.onnx_path
    np.testing.assert_allclose(load_classifier("mine").logits(x), want, rtol=1e-5, atol=1e-5)
    g = GradientModel(compile_ensemble([report.onnx_path], size=16, batch=2))
    r = g.grad(np.random.default_rng(2).random((2, 3, 16, 16), dtype=np.float32), np.array([1, 2]))
    assert r.grad.shape == (2, 3, 16, 16)
    assert np.abs(r.grad).sum() > 0


@pytest.mark.usefixtures("zoo_env")
def test_tf_style_probabilities_over_1001_classes_nhwc(tmp_path: Path) -> None:
    """TF-Slim exports: NHWC, background class at index 0, Softmax output, Inception's [-1, 1]."""
    path, _ = foreign(tmp_path, classes=1001, nhwc=True, probs=True, batch="n")
    report = import_model(
        path, "tfmodel", WrapOptions(normalization="tf", labels="tfslim1001", output="probs")
    )
    assert {"NHWC input: transposed from NCHW", "TF-Slim background class dropped"} <= set(report.notes)
    x = np.random.default_rng(3).random((2, 3, 8, 8), dtype=np.float32)
    got = run(report.onnx_path, "input", x)
    p = run(path, "x", (x.transpose(0, 2, 3, 1) - 0.5) / 0.5)
    np.testing.assert_allclose(got, np.log(p[:, 1:]), rtol=1e-5, atol=1e-5)


@pytest.mark.usefixtures("zoo_env")
def test_spatial_output_own_normalisation_and_symbolic_size(tmp_path: Path) -> None:
    path, _ = foreign(tmp_path, batch="n", size="s", spatial_output=True)
    with pytest.raises(ModelError, match="symbolic size; give --size"):
        import_model(path, "conv-head")
    report = import_model(path, "conv-head", WrapOptions(size=12, mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2)))
    assert "output [1, 1000, 1, 1] squeezed to [N, 1000]" in report.notes
    x = np.random.default_rng(4).random((2, 3, 12, 12), dtype=np.float32)
    mean = np.array([0.5, 0.4, 0.3], np.float32).reshape(1, 3, 1, 1)
    want = run(path, "x", (x - mean) / 0.2).reshape(2, 1000)
    np.testing.assert_allclose(run(report.onnx_path, "input", x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.usefixtures("zoo_env")
def test_old_opset_model_zoo_file_with_lrn(tmp_path: Path) -> None:
    lrn = helper.make_node("LRN", ["r"], ["r2"], size=3)
    path, _ = foreign(tmp_path, opset=9, extra=[lrn])
    # the GAP reads r; route it through the LRN
    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type == "GlobalAveragePool":
            node.input[0] = "r2"
    onnx.save(model, str(path))
    report = import_model(path, "zoo-lrn", WrapOptions(normalization="none"))
    assert "opset 9 converted to 18" in report.notes
    compile_gradient_graph(report.onnx_path, batch=1)  # LRN has a rule


@pytest.mark.usefixtures("zoo_env")
def test_a_model_without_gradient_rules_still_imports(tmp_path: Path) -> None:
    path, _ = foreign(tmp_path, extra=[helper.make_node("Sin", ["r"], ["r2"], name="wobble")])
    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type == "GlobalAveragePool":
            node.input[0] = "r2"
    onnx.save(model, str(path))
    report = import_model(path, "wobbly")
    assert get_manifest("wobbly").name == "wobbly"  # a defense all the same
    with pytest.raises(UnsupportedOpError, match=r"op Sin \(node 'model/wobble'\) has no gradient rule"):
        compile_gradient_graph(report.onnx_path, batch=1)


@pytest.mark.usefixtures("zoo_env")
def test_names_and_options_are_checked(tmp_path: Path) -> None:
    path, _ = foreign(tmp_path)
    with pytest.raises(ModelError, match=r"already exists .*choose another --name"):
        import_model(path, "efficientnet-lite0")
    with pytest.raises(ModelError, match="lowercase"):
        import_model(path, "Bad Name")
    with pytest.raises(ParameterError, match="--mean and --std together"):
        import_model(path, "x", WrapOptions(mean=(0.5, 0.5, 0.5)))
    with pytest.raises(ModelError, match=r"expected \[N, 1001\]"):
        import_model(path, "x", WrapOptions(labels="tfslim1001"))
    import_model(path, "again")
    with pytest.raises(ModelError, match="pass --force"):
        import_model(path, "again")
    assert import_model(path, "again", force=True).manifest.name == "again"
    with pytest.raises(ModelError, match="not found"):
        import_model(tmp_path / "missing.onnx", "y")


@pytest.mark.usefixtures("zoo_env")
@pytest.mark.parametrize(
    ("batch", "size", "why"),
    [
        ("n", 16000, "16000 px per side, over the import's budget of 2048 px"),
        (1, 2_000_000_000, "2000000000 px per side, over the import's budget"),
        (1000, 1024, "fixed batch of 1000 at 1024 px, 1048576000 pixels per run, over the import's budget"),
    ],
)
def test_the_pixel_budget_is_checked_before_any_allocation(
    tmp_path: Path, batch: int | str, size: int, why: str
) -> None:
    """Issue 29: [N, 3, 16000, 16000] ran 98 s to 6.1 GB before it failed, and 2e9 per side ended as
    "internal error: array is too big". Both are now a ModelError (one line, exit 1) at once."""
    path, _ = foreign(tmp_path, batch=batch, size=size)
    with pytest.raises(ModelError, match=why):
        import_model(path, "huge")


LIGHT = sorted((Path(onnx.__file__).parent / "backend" / "test" / "data" / "light").glob("light_*.onnx"))


def test_the_onnx_package_ships_the_nine_light_graphs() -> None:
    names = [p.stem.removeprefix("light_") for p in LIGHT]
    assert names == [
        "bvlc_alexnet",
        "densenet121",
        "inception_v1",
        "inception_v2",
        "resnet50",
        "shufflenet",
        "squeezenet",
        "vgg19",
        "zfnet512",
    ]


@pytest.mark.usefixtures("zoo_env")
@pytest.mark.parametrize("path", LIGHT, ids=[p.stem for p in LIGHT])
def test_onnx_model_zoo_graphs_import_compile_and_run(path: Path, tmp_path: Path) -> None:
    """IR-3 Caffe2 exports of the ONNX model zoo (initializers listed as inputs, batch fixed at 1,
    opset 9, softmax outputs): imported as `advengine models import --normalization none --output
    probs` does, compiled as `advengine graph compile NAME --batch-size 1` does, and run once."""
    from advengine.cli import main

    name = path.stem.removeprefix("light_")
    report = import_model(path, name, WrapOptions(normalization="none", output="probs"))
    assert any("IR version upgraded" in n for n in report.notes)
    assert any("fixed batch 1 made symbolic" in n for n in report.notes)
    out = tmp_path / "grad.onnx"
    assert main(["graph", "compile", name, str(out), "--batch-size", "1"]) == 0
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    result = GradientModel(out).grad(x, np.array([0]))
    assert result.logits.shape == (1, 1000)
    assert np.isfinite(result.grad).all()
    # The classifier runs batches larger than the original fixed batch of 1.
    logits = load_classifier(name).logits(np.concatenate([x, x]))
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-4, atol=1e-4)


def _fixed_inside(tmp_path: Path) -> Path:
    """A foreign model whose batch stays fixed at 1 inside (a Constant shape, not an initializer)."""
    expand = [
        helper.make_node(
            "Constant", [], ["shape"], value=numpy_helper.from_array(np.array([1, 256], np.int64))
        ),
        helper.make_node("Reshape", ["r", "shape"], ["flat_r"]),
        helper.make_node(
            "Constant", [], ["back"], value=numpy_helper.from_array(np.array([-1, 4, 8, 8], np.int64))
        ),
        helper.make_node("Reshape", ["flat_r", "back"], ["r2"]),
    ]
    path, _ = foreign(tmp_path, extra=expand)
    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type == "GlobalAveragePool":
            node.input[0] = "r2"
    onnx.save(model, str(path))
    return path


@pytest.mark.usefixtures("zoo_env")
def test_a_batch_that_stays_fixed_is_kept_and_split(tmp_path: Path) -> None:
    """The model keeps its batch of 1; the classifier runs 3 images as 3 calls, and an attack source
    compiles its gradient graph at batch 1 and runs a batch of 3 through it."""
    from advengine.attacks.sources import get_source
    from advengine.models.onnx_contract import fixed_batch

    path = _fixed_inside(tmp_path)
    report = import_model(path, "fixed1")
    assert any("kept at 1; larger batches run as calls of 1 images" in n for n in report.notes)
    assert fixed_batch(report.onnx_path) == 1
    x = np.random.default_rng(1).random((3, 3, 8, 8), dtype=np.float32)
    one_by_one = np.concatenate([run(report.onnx_path, "input", x[i : i + 1]) for i in range(3)])
    clf = load_classifier("fixed1")
    assert clf.fixed_batch == 1
    np.testing.assert_allclose(clf.logits(x), one_by_one, rtol=1e-5, atol=1e-5)
    source = get_source(("fixed1",))
    x299 = np.random.default_rng(2).random((3, 3, 299, 299), dtype=np.float32)
    logits, grad = source.grad(x299, np.array([1, 2, 3]))
    assert logits.shape == (3, 1000)
    assert grad.shape == x299.shape
    np.testing.assert_allclose(source.logits(x299), logits, rtol=1e-4, atol=1e-4)
