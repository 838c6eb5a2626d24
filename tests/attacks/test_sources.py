"""Source ensembles: weights, memoisation, model checks (no graph compiled here)."""

from __future__ import annotations

import pytest

from advengine.attacks.sources import get_source, normalised_weights, zoo_models
from advengine.errors import ParameterError


def test_weights_are_normalised() -> None:
    assert normalised_weights(("a", "b"), (1.0, 3.0)) == (0.25, 0.75)
    assert normalised_weights(("a", "b"), None) == (0.5, 0.5)


@pytest.mark.parametrize("weights", [(1.0,), (1.0, -1.0), (0.0, 0.0)])
def test_bad_weights_are_named(weights: tuple[float, ...]) -> None:
    with pytest.raises(ParameterError, match="weights"):
        normalised_weights(("a", "b"), weights)


def test_no_models_is_an_error() -> None:
    with pytest.raises(ParameterError, match="at least one source model"):
        normalised_weights((), None)


def test_sources_are_memoised_per_models_weights_and_loss() -> None:
    models = zoo_models()[:2]
    a = get_source(models, (1, 1))
    assert get_source(models, (2, 2)) is a  # same normalised weights
    assert get_source(models, (1, 2)) is not a
    assert get_source(models, (1, 1), loss="ce-targeted") is not a
    assert a.key.weights == (0.5, 0.5)


def test_unknown_model_is_named() -> None:
    with pytest.raises(ParameterError, match="unknown source model 'x'"):
        get_source(("x",))
