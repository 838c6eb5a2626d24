"""The attack FCN graph: the perturbation stays within ε, the budget picks its head, the untrained
network is FGSM along the hint, and weights load only with the manifest's sha256."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from advengine.errors import ConfigError, ModelError
from advengine.models.dunet import DunetConfig, build_dunet
from advengine.models.dunet import init_params as dunet_init
from advengine.models.fcn import (
    EPS_HEADS,
    HINT_GAIN,
    FcnConfig,
    build_fcn,
    head_eps,
    init_params,
    load_fcn,
    pack_input,
    read_fcn,
    write_fcn,
)

F32 = npt.NDArray[np.float32]
CONFIG = FcnConfig(16, (2, 4))


def run(params: dict[str, F32], x: F32, hint: F32, eps: npt.ArrayLike) -> F32:
    sess = ort.InferenceSession(
        build_fcn(CONFIG, params).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    out: F32 = sess.run(["adv"], {"input": pack_input(x, hint, eps)})[0]
    return out


def images(n: int, seed: int = 0) -> tuple[F32, F32]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3, 16, 16), dtype=np.float32)
    hint = np.sign(rng.standard_normal((n, 3, 16, 16))).astype(np.float32)
    return x, hint


def test_the_untrained_fcn_is_fgsm_along_the_hint() -> None:
    x, hint = images(3)
    x = 0.25 + 0.5 * x  # away from 0 and 1, so nothing is clipped
    out = run(init_params(CONFIG, 0), x, hint, [4, 9, 16])
    eps = np.array([4, 9, 16], np.float32).reshape(3, 1, 1, 1) / 255
    np.testing.assert_allclose(out - x, eps * np.tanh(HINT_GAIN * hint), atol=1e-6)


def test_random_weights_stay_within_eps_and_in_range() -> None:
    rng = np.random.default_rng(1)
    params = {
        k: (5 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in init_params(CONFIG, 0).items()
    }
    x, hint = images(4)
    for eps in (0, 3, 8, 16, 40):
        out = run(params, x, hint, eps)
        assert out.min() >= 0
        assert out.max() <= 1
        assert np.abs(out - x).max() <= eps / 255 + 1e-6
    assert np.abs(run(params, x, hint, 16) - x).max() > 8 / 255  # large weights use the budget


def test_the_budget_picks_its_head() -> None:
    params = init_params(CONFIG, 0)
    params["fcn.heads.weight"][:] = 0
    # Head h outputs the constant (h + 1) / 20 on every channel, so tanh tells which head ran.
    params["fcn.heads.bias"][:] = np.repeat(np.arange(1, len(EPS_HEADS) + 1, dtype=np.float32) / 20, 3)
    x = np.full((len(EPS_HEADS) + 2, 3, 16, 16), 0.5, np.float32)
    budgets = [*EPS_HEADS, 2, 30]
    out = run(params, x, np.zeros_like(x), budgets)
    for i, eps in enumerate(budgets):
        head = EPS_HEADS.index(int(head_eps(eps)))
        expected = 0.5 + eps / 255 * np.tanh((head + 1) / 20)
        np.testing.assert_allclose(out[i], expected, atol=1e-6, err_msg=f"eps {eps}")


def test_weights_read_back_and_a_dunet_is_refused() -> None:
    params = init_params(CONFIG, 3)
    config, back = read_fcn(build_fcn(CONFIG, params))
    assert config == CONFIG
    for k, v in params.items():
        np.testing.assert_array_equal(back[k], v)
    with pytest.raises(ModelError, match="not an attack FCN"):
        read_fcn(build_dunet(DunetConfig(16, (2, 4)), dunet_init(DunetConfig(16, (2, 4)), 0)))
    with pytest.raises(ModelError, match=r"missing fcn\.heads\.bias"):
        build_fcn(CONFIG, {k: v for k, v in params.items() if k != "fcn.heads.bias"})


def saved(tmp_path: Path) -> Path:
    data, manifest = write_fcn(
        CONFIG,
        init_params(CONFIG, 0),
        tmp_path,
        name="my-fcn",
        hint_model="efficientnet-lite0",
        sources=("efficientnet-lite0",),
        steps=2,
        images_seen=4,
    )
    (tmp_path / manifest.file).write_bytes(data)
    path = tmp_path / "my-fcn.json"
    path.write_text(json.dumps(manifest.model_dump(mode="json")))
    return path


def test_load_checks_the_sha256(tmp_path: Path) -> None:
    path = saved(tmp_path)
    model, manifest = load_fcn(path)
    assert manifest.name == "my-fcn"
    assert model.graph.output[0].name == "adv"
    onnx_file = tmp_path / "my-fcn.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="damaged or was replaced"):
        load_fcn(path)
    onnx_file.unlink()
    with pytest.raises(ModelError, match="are missing"):
        load_fcn(path)


def test_bad_manifests_are_one_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_fcn(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ModelError, match="not readable JSON"):
        load_fcn(tmp_path / "bad.json")
    (tmp_path / "short.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(ConfigError, match="file"):
        load_fcn(tmp_path / "short.json")
