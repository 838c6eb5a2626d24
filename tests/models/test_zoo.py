"""The catalogue: bundled models, registration of user ONNX classifiers, ADVENGINE_MODEL_PATH."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from advengine.errors import ModelError, ModelNotFoundError
from advengine.models import ensure_onnx, get_manifest, list_models, load_classifier
from advengine.models.zoo import register_model, unregister_model

from .conftest import tiny_classifier, user_manifest, write_json

BUNDLED = ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "efficientnet-lite2-hgd"]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A valid user manifest next to its ONNX file (in a dir other than the config dir)."""
    (tmp_path / "user").mkdir()
    onnx_path = tiny_classifier(tmp_path / "user" / "tiny.onnx")
    return write_json(tmp_path / "user" / "tiny.json", user_manifest(onnx_path))


@pytest.mark.usefixtures("zoo_env")
def test_bundled_models_are_listed() -> None:
    assert list_models() == BUNDLED
    # The denoised model is a model of the zoo, but not a plain classifier of the default rosters.
    assert list_models(denoised=False) == BUNDLED[:3]


@pytest.mark.usefixtures("zoo_env")
def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(
        ModelNotFoundError, match=r"unknown model 'lite9'; known models: efficientnet-lite0, "
    ):
        get_manifest("lite9")


@pytest.mark.usefixtures("zoo_env")
def test_every_unknown_model_message_points_at_models_import() -> None:
    from advengine.errors import ParameterError
    from advengine.models import check_models

    with pytest.raises(
        ModelNotFoundError, match=r"unknown model 'x'.*`advengine models import FILE --name NAME`"
    ):
        get_manifest("x")
    with pytest.raises(
        ParameterError, match=r"unknown source model 'x'.*`advengine models import FILE --name NAME`"
    ):
        check_models(["x"], "", "source model")


def test_register_copies_manifest_with_absolute_path(zoo_env: Path, tiny: Path) -> None:
    m = register_model(tiny)
    assert m.origin == "registered"
    assert m.path == zoo_env / "models" / "tiny.json"
    stored = json.loads(m.path.read_text())
    assert Path(stored["source"]["path"]).is_absolute()
    assert list_models() == [*BUNDLED, "tiny"]
    # It loads and classifies like any model, from any working directory.
    clf = load_classifier("tiny")
    labels = clf.predict(np.random.default_rng(0).random((3, 3, 8, 8), dtype=np.float32))
    assert labels.shape == (3,)
    assert labels.min() >= 1
    assert labels.max() <= 1000
    assert ensure_onnx("tiny") == tiny.parent.joinpath("tiny.onnx").resolve()


def test_register_twice_needs_force(zoo_env: Path, tiny: Path) -> None:
    register_model(tiny)
    with pytest.raises(ModelError, match=r"already registered .* pass --force"):
        register_model(tiny)
    assert register_model(tiny, force=True).name == "tiny"
    assert unregister_model("tiny") == zoo_env / "models" / "tiny.json"
    assert "tiny" not in list_models()
    with pytest.raises(ModelNotFoundError, match="no registered model named 'tiny'"):
        unregister_model("tiny")


@pytest.mark.usefixtures("zoo_env")
def test_register_refuses_a_bundled_name(tmp_path: Path) -> None:
    onnx_path = tiny_classifier(tmp_path / "t.onnx")
    path = write_json(tmp_path / "t.json", user_manifest(onnx_path, name="efficientnet-lite0"))
    with pytest.raises(ModelError, match="'efficientnet-lite0' already exists"):
        register_model(path)


@pytest.mark.usefixtures("zoo_env")
def test_register_checks_sha256(tmp_path: Path) -> None:
    onnx_path = tiny_classifier(tmp_path / "t.onnx")
    data = user_manifest(onnx_path)
    data["source"]["sha256"] = "0" * 64
    with pytest.raises(ModelError, match=r"has sha256 [0-9a-f]{64} but the manifest says 0{64}"):
        register_model(write_json(tmp_path / "t.json", data))


@pytest.mark.usefixtures("zoo_env")
def test_register_checks_the_file_exists(tmp_path: Path) -> None:
    onnx_path = tiny_classifier(tmp_path / "t.onnx")
    path = write_json(tmp_path / "t.json", user_manifest(onnx_path))
    onnx_path.unlink()
    with pytest.raises(ModelError, match=r"ONNX file .*t\.onnx does not exist \(fix 'source.path'\)"):
        register_model(path)


@pytest.mark.usefixtures("zoo_env")
def test_register_checks_the_contract(tmp_path: Path) -> None:
    onnx_path = tiny_classifier(tmp_path / "t.onnx", output="probs")
    with pytest.raises(ModelError, match="exactly one output named 'logits'"):
        register_model(write_json(tmp_path / "t.json", user_manifest(onnx_path)))


@pytest.mark.usefixtures("zoo_env")
def test_register_refuses_bundled_kind(tmp_path: Path) -> None:
    from .conftest import REPO_MANIFESTS

    with pytest.raises(ModelError, match="only 'onnx-file' manifests can be registered"):
        register_model(REPO_MANIFESTS / "efficientnet-lite0.json")


def test_model_path_dirs_are_searched(zoo_env: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVENGINE_MODEL_PATH", str(tiny.parent))
    m = get_manifest("tiny")
    assert m.origin == "model-path"
    assert ensure_onnx("tiny") == tiny.parent.joinpath("tiny.onnx").resolve()


def test_duplicate_names_name_both_files(zoo_env: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register_model(tiny)
    monkeypatch.setenv("ADVENGINE_MODEL_PATH", str(tiny.parent))
    with pytest.raises(
        ModelError, match=r"'tiny' is defined twice: .*config/models/tiny\.json and .*user/tiny\.json"
    ):
        list_models()


def test_changed_onnx_file_is_refused_at_load(zoo_env: Path, tiny: Path) -> None:
    register_model(tiny)
    tiny_classifier(tiny.parent / "tiny.onnx", classes=1000, size=8)  # same content: still fine
    assert ensure_onnx("tiny").is_file()
    with (tiny.parent / "tiny.onnx").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelError, match="re-register the model after changing its file"):
        ensure_onnx("tiny")


def test_bad_manifest_in_model_path_is_reported(
    zoo_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mp").mkdir()
    (tmp_path / "mp" / "broken.json").write_text('{"schema": 1}')
    monkeypatch.setenv("ADVENGINE_MODEL_PATH", str(tmp_path / "mp"))
    with pytest.raises(ModelError, match=r"broken\.json: missing field 'name'"):
        list_models()


@pytest.mark.usefixtures("zoo_env")
def test_register_refuses_external_data_outside_the_model_dir(tiny: Path) -> None:
    import onnx

    onnx_path = tiny.parent / "tiny.onnx"
    model = onnx.load(str(onnx_path))
    w = model.graph.initializer[0]
    w.ClearField("float_data")
    w.ClearField("raw_data")
    w.data_location = onnx.TensorProto.EXTERNAL
    w.external_data.add(key="location", value="../secret.bin")
    onnx.save(model, str(onnx_path))
    from advengine.models.checkpoint import sha256_file

    manifest = json.loads(tiny.read_text())
    manifest["source"]["sha256"] = sha256_file(onnx_path)
    write_json(tiny, manifest)
    with pytest.raises(ModelError, match=r"no absolute path, no '\.\.'"):
        register_model(tiny)
