"""The shipped ``fcn`` attack: registered, within ε in integer pixels for every budget (its heads
cover 4–16; others use the nearest head), deterministic, and its weights are checked on load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from advengine.attacks import ATTACKS, build_attack
from advengine.attacks.fcn import FcnParams, fcn_hint
from advengine.competition.config import parse_config
from advengine.data.images import to_model_input
from advengine.errors import ModelError, ParameterError
from advengine.models.fcn import SHIPPED, load_fcn

U8 = npt.NDArray[np.uint8]
Sample = tuple[U8, npt.NDArray[np.int64], npt.NDArray[np.int64]]


def test_registered_with_its_shipped_weights() -> None:
    assert "fcn" in ATTACKS.names()
    _, manifest = load_fcn(SHIPPED)
    assert manifest.hint_model == "efficientnet-lite0"
    assert manifest.sources == ("efficientnet-lite0", "efficientnet-lite1")
    assert (SHIPPED.parent / manifest.file).stat().st_size < 1_000_000


@pytest.mark.parametrize("eps", [2, 4, 11, 16, 24])
def test_within_eps_in_integer_pixels(eps: int, sample8: Sample) -> None:
    images = sample8[0][:2]
    adv = build_attack("fcn", {})(images, eps=eps, seed=0)
    assert adv.dtype == np.uint8
    diff = np.abs(adv.astype(np.int16) - images.astype(np.int16))
    assert int(diff.max()) <= eps
    assert int(diff.max()) >= eps - 1  # the FCN uses (nearly) the whole budget
    np.testing.assert_array_equal(adv, build_attack("fcn", {})(images, eps=eps, seed=5))  # no randomness


def test_zero_budget_and_other_sides(sample8: Sample) -> None:
    images = sample8[0][:1]
    np.testing.assert_array_equal(build_attack("fcn", {})(images, eps=0), images)
    with pytest.raises(ParameterError, match="299×299"):
        build_attack("fcn", {})(images[:, :64, :64], eps=4)


def test_the_hint_is_the_sign_of_the_hint_models_gradient(sample8: Sample) -> None:
    x = to_model_input(sample8[0][:2])
    hint = fcn_hint(x, "efficientnet-lite0", None)
    assert set(np.unique(hint)) <= {-1.0, 0.0, 1.0}
    assert (hint != 0).mean() > 0.9


def test_damaged_weights_are_refused(tmp_path: Path) -> None:
    manifest = json.loads(SHIPPED.read_text())
    shutil.copy(SHIPPED.parent / manifest["file"], tmp_path / manifest["file"])
    (tmp_path / "fcn.json").write_text(json.dumps({**manifest, "sha256": "0" * 64}))
    with pytest.raises(ModelError, match="damaged or was replaced"):
        build_attack("fcn", {"weights": str(tmp_path / "fcn.json")})
    with pytest.raises(ModelError, match="not found"):
        build_attack("fcn", {"weights": str(tmp_path / "none.json")})


def test_a_competition_config_takes_it() -> None:
    config = parse_config(
        {
            "attacks": [
                {"name": "fcn"},
                {"name": "fcn", "label": "mine", "params": {"weights": "run/a.json"}},
            ],
            "defenses": [{"name": "classifier", "models": ["efficientnet-lite2"]}],
        }
    )
    assert [(a.name, a.params) for a in config.attacks] == [
        ("fcn", FcnParams(weights=None)),
        ("fcn", FcnParams(weights="run/a.json")),
    ]
