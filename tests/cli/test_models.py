"""``advengine models``: list, build, verify, register; JSON output and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from advengine.cli import main

from ..models.conftest import tiny_classifier, user_manifest, write_json


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    # A cache shared by this module (builds take ~0.3 s each), a private config dir per test.
    cache = tmp_path_factory.getbasetemp() / "cli-models-cache"
    monkeypatch.setenv("ADVENGINE_CACHE", str(cache))
    monkeypatch.setenv("ADVENGINE_CONFIG", str(tmp_path / "config"))
    monkeypatch.delenv("ADVENGINE_MODEL_PATH", raising=False)
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)
    return tmp_path


def _one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.usefixtures("env")
def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (
        ["models", "--help"],
        *[["models", c, "--help"] for c in ("list", "build", "verify", "register", "import")],
    ):
        assert main(args) == 0
        assert "Usage" in capsys.readouterr().out


@pytest.mark.usefixtures("env")
def test_build_then_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "build", "efficientnet-lite0", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built[0]["name"] == "efficientnet-lite0"
    assert built[0]["action"] in ("built", "cached")
    assert Path(built[0]["onnx"]).is_file()
    assert main(["models", "build", "efficientnet-lite0"]) == 0
    assert re.search(r"efficientnet-lite0: cached .*\.onnx", capsys.readouterr().out)
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {
        "efficientnet-lite0",
        "efficientnet-lite1",
        "efficientnet-lite2",
        "efficientnet-lite2-hgd",
    }
    assert rows["efficientnet-lite0"]["status"] == "built"
    assert rows["efficientnet-lite2-hgd"]["source"] == "denoised"
    assert rows["efficientnet-lite2"]["input_size"] == 260
    assert main(["models", "list"]) == 0
    assert "efficientnet-lite1" in capsys.readouterr().out


@pytest.mark.usefixtures("env")
def test_verify_json(capsys: pytest.CaptureFixture[str], dev_dir: Path) -> None:
    args = ["models", "verify", "efficientnet-lite0", "--data", str(dev_dir), "--limit", "20"]
    assert main([*args, "--batch-size", "10", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "efficientnet-lite0"
    assert report["images"] == 20
    assert report["accuracy"] >= 0.8  # 20 easy-enough images; the full check is in tests/models
    assert report["seconds"] > 0
    assert report["images_per_second"] > 0
    assert main(args) == 0
    assert re.search(r"efficientnet-lite0: top-1 \d+\.\d\d% \(\d+/20\)", capsys.readouterr().out)


@pytest.mark.usefixtures("env")
def test_unknown_model_is_one_line(capsys: pytest.CaptureFixture[str], dev_dir: Path) -> None:
    assert main(["models", "verify", "nope", "--data", str(dev_dir)]) == 1
    assert "unknown model 'nope'" in _one_line_error(capsys.readouterr().err)
    assert main(["models", "build", "nope"]) == 1
    assert "known models: efficientnet-lite0" in _one_line_error(capsys.readouterr().err)


@pytest.mark.usefixtures("env")
def test_verify_bad_data_dir_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["models", "verify", "efficientnet-lite0", "--data", str(tmp_path / "absent")]) == 1
    _one_line_error(capsys.readouterr().err)


def test_verify_needs_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "verify", "efficientnet-lite0"]) == 2
    assert "--data" in capsys.readouterr().err


def test_register_list_unregister(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx_path = tiny_classifier(env / "tiny.onnx")
    manifest = write_json(env / "tiny.json", user_manifest(onnx_path))
    assert main(["models", "register", str(manifest), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "tiny"
    assert info["origin"] == "registered"
    assert info["status"] == "onnx file"
    assert main(["models", "register", str(manifest)]) == 1
    assert "pass --force" in _one_line_error(capsys.readouterr().err)
    assert main(["models", "register", str(manifest), "--force"]) == 0
    assert "registered tiny" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    assert "tiny" in capsys.readouterr().out
    assert main(["models", "unregister", "tiny"]) == 0
    assert "removed" in capsys.readouterr().out
    assert main(["models", "list", "--json"]) == 0
    assert "tiny" not in {r["name"] for r in json.loads(capsys.readouterr().out)}


@pytest.mark.usefixtures("env")
def test_register_bad_manifest_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": 1, "name": "x"}')
    assert main(["models", "register", str(bad)]) == 1
    assert "bad.json: missing field 'labels'" in _one_line_error(capsys.readouterr().err)


def test_import_then_verify_and_list(env: Path, capsys: pytest.CaptureFixture[str], dev_dir: Path) -> None:
    """A foreign classifier (output named `out`, probabilities) imported, then used like a zoo model."""
    onnx_file = tiny_classifier(env / "foreign.onnx", size=16, output="out")
    args = ["models", "import", str(onnx_file), "--name", "foreign", "--mean", "0.5,0.5,0.5", "--std"]
    assert main([*args, "0.25,0.25,0.25", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["name"] == "foreign"
    assert report["gradient"] == "supported"
    assert report["input_size"] == 16
    assert Path(report["onnx"]).parent == env / "config" / "models"
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["foreign"]["origin"] == "registered"
    assert main(["models", "verify", "foreign", "--data", str(dev_dir), "--limit", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 4


def test_import_errors_are_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx_file = tiny_classifier(env / "foreign.onnx")
    assert main(["models", "import", str(onnx_file), "--name", "x", "--mean", "0.5,0.5"]) != 0
    assert "--mean takes three comma-separated numbers" in _one_line_error(capsys.readouterr().err)
    assert main(["models", "import", str(onnx_file), "--name", "x", "--labels", "tfslim1001"]) != 0
    assert "expected [N, 1001]" in _one_line_error(capsys.readouterr().err)


@pytest.mark.usefixtures("env")
def test_import_of_a_huge_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 29: 2e9 px per side ended as "internal error: ValueError: array is too big" (exit 70)."""
    from ..models.test_importer import foreign

    path, _ = foreign(tmp_path, batch="n", size=2_000_000_000)
    assert main(["models", "import", str(path), "--name", "huge"]) == 1
    assert "over the import's budget of 2048 px" in _one_line_error(capsys.readouterr().err)
