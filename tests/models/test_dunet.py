"""The DUNET graph: shapes at odd sides, the identity at initialisation, weights checked."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from advengine.errors import ModelError, ParameterError
from advengine.models.dunet import DunetConfig, build_dunet, init_params, read_dunet


def run(model: object, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    out: np.ndarray = sess.run(None, {"input": x})[0]
    return out


@pytest.mark.parametrize(("size", "channels"), [(16, (4, 8)), (33, (4, 8, 8)), (65, (2, 4, 4, 8))])
def test_identity_at_init_and_any_side(size: int, channels: tuple[int, ...]) -> None:
    config = DunetConfig(size, channels)
    params = init_params(config, 0)
    x = np.random.default_rng(0).random((2, 3, size, size), dtype=np.float32)
    np.testing.assert_array_equal(run(build_dunet(config, params), x), x)
    # Non-zero output weights: x − D(x) differs, with the same shape.
    params["dunet.dec1.weight"] += 0.05
    y = run(build_dunet(config, params), x)
    assert y.shape == x.shape
    assert np.abs(y - x).max() > 1e-3


def test_he_init_is_seeded() -> None:
    config = DunetConfig(16, (4, 8))
    a, b, c = init_params(config, 1), init_params(config, 1), init_params(config, 2)
    np.testing.assert_array_equal(a["dunet.enc2.weight"], b["dunet.enc2.weight"])
    assert not np.array_equal(a["dunet.enc2.weight"], c["dunet.enc2.weight"])
    w = init_params(DunetConfig(64, (64, 64)), 0)["dunet.enc2.weight"]
    assert w.std() == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.05)


def test_read_back() -> None:
    config = DunetConfig(16, (4, 8))
    params = init_params(config, 3)
    back_config, back = read_dunet(build_dunet(config, params))
    assert back_config == config
    for k, v in params.items():
        np.testing.assert_array_equal(back[k], v)


def test_bad_configs_and_weights() -> None:
    with pytest.raises(ParameterError, match="at least 2 levels"):
        DunetConfig(16, (4,))
    with pytest.raises(ParameterError, match="too small for 4 levels"):
        DunetConfig(8, (4, 4, 4, 4))
    config = DunetConfig(16, (4, 8))
    params = init_params(config, 0)
    del params["dunet.enc1.bias"]
    with pytest.raises(ModelError, match=r"missing dunet\.enc1\.bias"):
        build_dunet(config, params)
    params = init_params(config, 0)
    params["dunet.enc1.bias"] = np.zeros(5, np.float32)
    with pytest.raises(ModelError, match=r"dunet.enc1.bias has shape \[5\], expected \[4\]"):
        build_dunet(config, params)
