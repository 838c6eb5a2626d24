"""``advengine graph compile`` / ``ensemble``: files written, JSON, cache hits, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from advengine.cli import main

from ..graph.conftest import tiny_mobilenet


@pytest.fixture
def net_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ADVENGINE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "net.onnx"
    onnx.save(tiny_mobilenet(np.random.default_rng(0), classes=4), str(path))
    return path


def test_compile_writes_a_runnable_graph_and_caches_it(
    net_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "grad.onnx"
    args = ["graph", "compile", str(net_file), str(out)]
    args += ["--loss", "cw", "--kappa", "2", "--batch-size", "3", "--size", "16", "--json"]
    assert main(args) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cache_hit"] is False
    assert info["inputs"] == {"input": [3, 3, 16, 16], "label": [3]}
    assert info["outputs"] == {"logits": [3, 4], "loss": [3], "grad": [3, 3, 16, 16]}
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).random((3, 3, 16, 16), dtype=np.float32)
    loss, grad = sess.run(["loss", "grad"], {"input": x, "label": np.array([0, 1, 3], np.int64)})
    assert loss.shape == (3,)
    assert np.all(loss <= 2.0)
    assert grad.shape == x.shape
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit"] is True


def test_compile_with_fused_step_human_output(
    net_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "step.onnx"
    assert main(["graph", "compile", str(net_file), str(out), "--size", "16", "--step", "mifgsm"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"wrote {out}")
    assert "momentum [1, 3, 16, 16]" in text
    assert "x_next" in text


def test_ensemble_command(net_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.onnx"
    onnx.save(tiny_mobilenet(np.random.default_rng(7), classes=4), str(other))
    out = tmp_path / "ens.onnx"
    code = main(
        [
            "graph",
            "ensemble",
            str(out),
            str(net_file),
            str(other),
            "--weights",
            "1,3",
            "--fusion",
            "prob",
            "--size",
            "20",
            "--batch",
            "2",
            "--json",
        ]
    )
    assert code == 0
    info = json.loads(capsys.readouterr().out)
    assert info["inputs"]["input"] == [2, 3, 20, 20]
    assert out.is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--loss", "hinge"], "unknown loss 'hinge'"),
        (["--step", "bim"], "unknown step 'bim'"),
        ([], "dynamic dimension 2"),
        (["--size", "16", "--param", "fc"], "--param needs --wrt params or --wrt both"),
        (["--size", "16", "--wrt", "weights"], "--wrt 'weights' is not one of input, params, both"),
        (["--size", "16", "--wrt", "params", "--param", "nope"], "parameter 'nope' is not an initializer"),
    ],
)
def test_errors_are_one_line(
    net_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)
    assert main(["graph", "compile", str(net_file), str(tmp_path / "o.onnx"), *extra]) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the "Compiling ..." status line, if any
    assert last.startswith("error:")
    assert message in last
    assert "Traceback" not in err
    assert not (tmp_path / "o.onnx").exists()


def test_missing_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)
    assert main(["graph", "compile", str(tmp_path / "nope.onnx"), str(tmp_path / "o.onnx")]) == 1
    assert "neither an ONNX file nor a zoo model" in capsys.readouterr().err


def test_bad_weights(net_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "ensemble", str(tmp_path / "e.onnx"), str(net_file), "--weights", "a,b"]) == 1
    assert "--weights 'a,b'" in capsys.readouterr().err


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["graph", "--help"], ["graph", "compile", "--help"], ["graph", "ensemble", "--help"]):
        assert main(args) == 0
    assert "--fusion" in capsys.readouterr().out


def test_compile_parameter_gradients_json(
    net_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "params.onnx"
    args = ["graph", "compile", str(net_file), str(out), "--size", "16", "--loss", "l1", "--json"]
    assert main([*args, "--wrt", "params"]) == 0
    info = json.loads(capsys.readouterr().out)
    every = ["w1", "bn_s", "bn_b", "wd", "w2", "fc", "fcb"]
    assert info["params"] == {p: f"grad/{p}" for p in every}
    assert "grad" not in info["outputs"]
    assert info["inputs"]["w1"] == info["outputs"]["grad/w1"] == [8, 3, 3, 3]
    assert main([*args, "--wrt", "both", "--param", "fc", "--param", "fcb"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cache_hit"] is False
    assert info["params"] == {"fc": "grad/fc", "fcb": "grad/fcb"}
    assert {"grad", "grad/fc", "grad/fcb"} <= set(info["outputs"])
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert {i.name for i in sess.get_inputs()} == {"input", "target", "fc", "fcb"}
