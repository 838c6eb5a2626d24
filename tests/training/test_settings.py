"""Settings: one clear line for every bad value, the guide never a source."""

from __future__ import annotations

from pathlib import Path

import pytest

from advengine.errors import ConfigError, ParameterError
from advengine.training import train_settings


def test_defaults_are_the_issue_s() -> None:
    s = train_settings({"data": "."})
    assert s.target == "efficientnet-lite2"
    assert s.source_sets() == [
        ("efficientnet-lite0",),
        ("efficientnet-lite1",),
        ("efficientnet-lite0", "efficientnet-lite1"),
    ]
    assert (s.attacks, s.epsilons, s.holdout) == (("fgsm", "ifgsm", "mifgsm", "fcn"), (4, 8, 12, 16), 200)
    assert s.data == str(Path(".").resolve())
    assert (s.deployed, s.crop, s.limit, s.init) == ("efficientnet-lite2", None, None, None)
    # 3 attacks × 3 source sets × 4 ε, then the FCN (its own models) × 4 ε.
    cells = s.cells()
    assert len(cells) == 40
    assert cells[-4:] == [("fcn", (), e) for e in (4, 8, 12, 16)]


def test_a_cheaper_guide_may_be_a_source_when_another_model_is_deployed() -> None:
    s = train_settings({"data": ".", "target": "efficientnet-lite0", "deploy": "efficientnet-lite2"})
    assert (s.target, s.deployed) == ("efficientnet-lite0", "efficientnet-lite2")
    with pytest.raises(
        ConfigError, match="the deployed classifier efficientnet-lite1 is one of the training"
    ):
        train_settings({"data": ".", "target": "efficientnet-lite0", "deploy": "efficientnet-lite1"})


def test_the_guide_is_never_a_source() -> None:
    with pytest.raises(
        ConfigError, match="the guide efficientnet-lite0 is one of the training attacks' sources"
    ):
        train_settings({"data": ".", "target": "efficientnet-lite0"})


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        ({"channels": "16,x"}, ConfigError, r"train hgd: channels\[1\] must be an integer"),
        ({"channels": "16"}, ConfigError, "channels"),
        ({"batch_size": 0}, ConfigError, "train hgd: batch_size must be at least 1, got 0"),
        ({"lr": 0}, ConfigError, "train hgd: lr must be positive"),
        ({"draws": 41}, ConfigError, "draws = 41 is more than the 40"),
        ({"attacks": "fgsm", "draws": 13}, ConfigError, "draws = 13 is more than the 12"),
        ({"crop": 4}, ConfigError, "crop"),
        ({"deploy": "nope"}, ParameterError, "train hgd --deploy: unknown model 'nope'"),
        ({"target": "nope"}, ParameterError, "train hgd --target: unknown model 'nope'"),
        ({"sources": "efficientnet-lite0,nope"}, ParameterError, "unknown source model 'nope'"),
        ({"attacks": "fgsm,nope"}, ConfigError, "unknown attack 'nope'"),
        ({"bogus": 1}, ConfigError, "unknown parameter 'bogus'"),
    ],
)
def test_bad_values(values: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        train_settings({"data": ".", **values})
