"""The classifier contract check that registered models must pass."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import onnx
import pytest

from advengine.errors import ModelError
from advengine.models.onnx_contract import check_onnx_contract

from .conftest import tiny_classifier


def test_valid_model_passes(tmp_path: Path) -> None:
    check_onnx_contract(tiny_classifier(tmp_path / "t.onnx", size=16), 16)


def test_wrong_size(tmp_path: Path) -> None:
    with pytest.raises(
        ModelError, match=r"'input' has shape \['N', 3, 16, 16\], expected \[N, 3, 224, 224\]"
    ):
        check_onnx_contract(tiny_classifier(tmp_path / "t.onnx", size=16), 224)


def test_wrong_class_count(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"'logits' has shape \['N', 1001\], expected \[N, 1000\]"):
        check_onnx_contract(tiny_classifier(tmp_path / "t.onnx", classes=1001), 8)


def _edited(tmp_path: Path, edit: Callable[[onnx.ModelProto], None]) -> Path:
    """A tiny classifier saved after ``edit`` changed it."""
    path = tiny_classifier(tmp_path / "t.onnx")
    model = onnx.load(str(path))
    edit(model)
    onnx.save(model, str(path))
    return path


def _fixed_batch(model: onnx.ModelProto) -> None:
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1


def _old_opset(model: onnx.ModelProto) -> None:
    model.opset_import[0].version = 13


def _old_opset_and_custom_domain(model: onnx.ModelProto) -> None:
    _old_opset(model)
    model.opset_import.append(onnx.helper.make_opsetid("com.example", 1))


def _undeclared_custom_domain_in_a_node(model: onnx.ModelProto) -> None:
    model.graph.node[0].domain = "com.evil"  # not in opset_import: ORT would fail at load


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(_fixed_batch, "N symbolic", id="fixed-batch"),
        pytest.param(_old_opset, "opset 13; opset 17 or newer is required", id="old-opset"),
        pytest.param(_old_opset_and_custom_domain, r"custom op domain 'com\.example'", id="custom-domain"),
        pytest.param(
            _undeclared_custom_domain_in_a_node,
            r"node\(s\) use the custom op domain 'com\.evil'",
            id="undeclared-domain-in-a-node",
        ),
    ],
)
def test_a_model_outside_the_contract_is_refused(
    tmp_path: Path, edit: Callable[[onnx.ModelProto], None], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        check_onnx_contract(_edited(tmp_path, edit), 8)


def test_a_batch_fixed_in_and_out_is_kept(tmp_path: Path) -> None:
    """A batch an import could not make symbolic is kept (docs/models.md), fixed alike in the input
    and the logits; fixed on one side only, it is refused (the fixed-batch case above)."""
    from advengine.models.onnx_contract import fixed_batch

    def both(model: onnx.ModelProto) -> None:
        _fixed_batch(model)
        model.graph.output[0].type.tensor_type.shape.dim[0].dim_value = 1

    path = _edited(tmp_path, both)
    check_onnx_contract(path, 8)
    assert fixed_batch(path) == 1
    assert fixed_batch(tiny_classifier(tmp_path / "s.onnx")) is None


def test_not_onnx(tmp_path: Path) -> None:
    path = tmp_path / "t.onnx"
    path.write_bytes(b"\xff\xfe not protobuf at all")
    with pytest.raises(ModelError, match="is not a readable ONNX model"):
        check_onnx_contract(path, 8)


@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "sub/../../w.bin"])
def test_external_data_outside_the_model_dir_is_refused(tmp_path: Path, location: str) -> None:
    def point_outside(model: onnx.ModelProto) -> None:
        w = model.graph.initializer[0]
        w.ClearField("raw_data")
        w.ClearField("float_data")
        w.data_location = onnx.TensorProto.EXTERNAL
        w.external_data.add(key="location", value=location)

    with pytest.raises(ModelError, match="external data must be a relative path next to the model"):
        check_onnx_contract(_edited(tmp_path, point_outside), 8)


def test_external_data_next_to_the_model_is_accepted(tmp_path: Path) -> None:
    path = tiny_classifier(tmp_path / "t.onnx")
    model = onnx.load(str(path))
    onnx.save(model, str(path), save_as_external_data=True, location="t.bin", size_threshold=0)
    check_onnx_contract(path, 8)
    (tmp_path / "t.bin").unlink()
    with pytest.raises(ModelError, match=r"external data file 't\.bin' of tensor 'w' does not exist"):
        check_onnx_contract(path, 8)
