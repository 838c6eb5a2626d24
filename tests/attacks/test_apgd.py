"""APGD: the DLR gradients match finite differences, the checkpoint schedule is the published one, and
APGD-CE / APGD-DLR / APGD-T / autoattack-lite fool lite0 white-box on a few images."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from advengine.attacks import build_attack
from advengine.attacks.apgd import checkpoints, cross_entropy, dlr, dlr_targeted
from advengine.defenses import build_defense

U8 = npt.NDArray[np.uint8]
Sample = tuple[U8, npt.NDArray[np.int64], npt.NDArray[np.int64]]
LITE0 = ("efficientnet-lite0",)


def numeric_dz(f: object, z: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    assert callable(f)
    out = np.zeros(z.shape)
    h = 1e-3
    for i in range(z.shape[0]):
        for k in range(z.shape[1]):
            up, down = z.astype(np.float64).copy(), z.astype(np.float64).copy()
            up[i, k] += h
            down[i, k] -= h
            out[i, k] = (f(up)[0][i] - f(down)[0][i]) / (2 * h)
    return out


def test_dlr_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 7)).astype(np.float32) * 3
    y = np.array([0, 3, 6])
    t = np.array([1, 2, 5])
    assert np.allclose(dlr(z, y)[1], numeric_dz(lambda v: dlr(v, y), z), atol=1e-3)
    assert np.allclose(dlr_targeted(z, y, t)[1], numeric_dz(lambda v: dlr_targeted(v, y, t), z), atol=1e-3)


def test_cross_entropy() -> None:
    z = np.array([[0.0, np.log(3.0)]], np.float32)
    assert np.allclose(cross_entropy(z, np.array([1])), -np.log(0.75), atol=1e-6)


def test_checkpoints_are_published() -> None:
    assert checkpoints(100) == (22, 3, 6)
    assert checkpoints(10) == (2, 1, 1)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("apgd-ce", {"iterations": 8}),
        ("apgd-dlr", {"iterations": 8}),
        ("apgd-t", {"iterations": 4, "targets": 2}),
        ("autoattack-lite", {"iterations": 4, "targets": 1, "queries": 20}),
    ],
)
def test_white_box_on_lite0(name: str, params: dict[str, int], sample8: Sample) -> None:
    images = sample8[0][:4]
    clf = build_defense("classifier", {}, LITE0)
    clean = clf(images)
    adv = build_attack(name, params, LITE0)(images, eps=16, seed=0)
    assert int(np.abs(adv.astype(np.int16) - images).max()) <= 16
    assert int((clf(adv) == clean).sum()) <= 1
