"""Source ensembles: weights, memoisation, model checks, and the targeted source as the negated ce one."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from advengine.attacks import sources
from advengine.attacks.sources import (
    NegatedSource,
    Source,
    SourceKey,
    get_source,
    normalised_weights,
    session_batch,
    zoo_models,
)
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


def test_targeted_source_reuses_the_live_ce_source() -> None:
    models = zoo_models()[:1]
    live = len(sources._SOURCES)
    targeted = get_source(models, loss="ce-targeted")
    assert isinstance(targeted, NegatedSource)
    assert targeted.key.loss == "ce-targeted"
    assert targeted.base is get_source(models)
    # It holds no session, so it takes no slot among the live sources (only its ce base may).
    assert len(sources._SOURCES) <= live + 1
    assert all(k.loss != "ce-targeted" for k in sources._SOURCES)


def test_negated_ce_gradient_equals_the_compiled_targeted_head(
    sample8: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> None:
    images, _, targets = sample8
    x = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255)
    idx = targets - 1
    models = ("efficientnet-lite0",)
    shared_logits, shared = get_source(models, loss="ce-targeted").grad(x, idx)
    compiled_logits, compiled = Source(SourceKey(models, (1.0,), "logit", "ce-targeted", 0.0)).grad(x, idx)
    np.testing.assert_array_equal(shared_logits, compiled_logits)
    # Equal up to float rounding (ORT fuses the two heads' ops differently; measured 1.1e-6 at |g| 1.9).
    np.testing.assert_allclose(shared, compiled, rtol=0, atol=1e-5 * float(np.abs(compiled).max()))
    assert float(np.abs(compiled).max()) > 0


def test_a_short_chunk_runs_on_the_smallest_open_batch_that_holds_it() -> None:
    assert session_batch(48, []) == sources.MAX_GRAPH_BATCH
    assert session_batch(23, [25]) == 25  # the remainder of 48 in batches of 25: no second graph
    assert session_batch(23, [8, 25, 24]) == 24
    assert session_batch(3, []) == 3
    assert session_batch(0, []) == 1
    assert session_batch(20, [16]) == 20  # nothing open holds 20 images in one chunk
