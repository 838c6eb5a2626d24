"""Score aggregation: equal to a plain numpy reference of both NIPS 2017 policies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advengine import kernels
from advengine.errors import ParameterError, ShapeError
from advengine.kernels import MISSING, NO_IMAGE


def reference(
    preds: np.ndarray, truth: np.ndarray, target: np.ndarray, targeted: np.ndarray, policy: str
) -> dict:
    a, d, n = preds.shape
    labelled = preds >= 0
    correct = ((preds == truth) & labelled).sum(axis=2)
    error = ((preds != truth) & labelled).sum(axis=2)
    hit = ((preds == target) & labelled).sum(axis=2)
    classified = labelled.sum(axis=2)
    produced = (preds[:, 0, :] != NO_IMAGE).sum(axis=1) if d else np.full(a, n)
    if policy == "devkit":
        success = np.where(targeted[:, None], hit, n - correct)
        used_a, used_d = np.ones(a, bool), np.ones(d, bool)
    else:
        success = np.where(targeted[:, None], hit, error)
        used_a = produced == n
        used_d = classified.sum(axis=0) == produced.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        d_raw = correct[used_a].sum(axis=0)
        a_raw = success[:, used_d].sum(axis=1)
        return {
            "correct": correct,
            "error": error,
            "hit": hit,
            "classified": classified,
            "missing": n - classified,
            "produced": produced,
            "attacks_used": used_a,
            "defenses_used": used_d,
            "defense_raw": d_raw,
            "attack_raw": a_raw,
            "defense_score": d_raw / (n * used_a.sum()) if n * used_a.sum() else np.full(d, np.nan),
            "attack_score": a_raw / (n * used_d.sum()) if n * used_d.sum() else np.full(a, np.nan),
            "defense_worst": (correct[used_a].min(axis=0) / n) if used_a.any() and n else np.full(d, np.nan),
            "attack_worst": (success[:, used_d].min(axis=1) / n)
            if used_d.any() and n
            else np.full(a, np.nan),
        }


@st.composite
def competitions(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    a, d, n = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    truth = rng.integers(1, 4, n)
    target = rng.integers(1, 4, n)
    preds = rng.integers(0, 4, (a, d, n))
    preds[rng.random((a, d, n)) < draw(st.sampled_from([0.0, 0.05, 0.3]))] = MISSING
    no_image = rng.random((a, n)) < draw(st.sampled_from([0.0, 0.1]))
    preds[np.broadcast_to(no_image[:, None, :], preds.shape)] = NO_IMAGE
    return preds, truth, target, rng.random(a) < 0.5


@settings(max_examples=150)
@given(competitions(), st.sampled_from(["official", "devkit"]))
def test_equals_numpy_reference(comp: tuple[np.ndarray, ...], policy: str) -> None:
    preds, truth, target, targeted = comp
    got = kernels.score(preds, truth, target, targeted, policy)  # type: ignore[arg-type]
    for name, want in reference(preds, truth, target, targeted, policy).items():
        np.testing.assert_array_equal(getattr(got, name), want, err_msg=name)


def test_devkit_and_official_disagree_on_missing_outputs() -> None:
    # One non-targeted attack, two defenses, two images; defense 1 wrote no label for image 0.
    preds = np.array([[[1, 9], [MISSING, 9]]])
    truth, targeted = np.array([1, 2]), np.array([False])
    devkit = kernels.score(preds, truth, None, targeted, "devkit")
    official = kernels.score(preds, truth, None, targeted, "official")
    assert devkit.attack_raw.tolist() == [3]  # N·D − Σ correct = 4 − 1: the missing label is a success
    assert official.attack_raw.tolist() == [1]  # only defense 0 is used; it erred once
    assert official.defenses_used.tolist() == [True, False]
    assert devkit.defense_raw.tolist() == official.defense_raw.tolist() == [1, 0]
    assert official.attack_worst.tolist() == [0.5]


def test_bad_inputs() -> None:
    preds = np.zeros((1, 1, 2), np.int64)
    with pytest.raises(ShapeError, match="true_labels"):
        kernels.score(preds, [1, 2, 3], None, [False])
    with pytest.raises(ShapeError, match="is_targeted"):
        kernels.score(preds, [1, 2], [3, 4], [False, True])
    with pytest.raises(ParameterError, match="policy"):
        kernels.score(preds, [1, 2], None, [False], "strict")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="target_classes"):
        kernels.score(preds, [1, 2], None, [True])
    with pytest.raises(ParameterError, match=r"prediction \[0, 0, 1\]"):
        kernels.score(np.array([[[1, -5]]]), [1, 2], None, [False])
    with pytest.raises(ParameterError, match="some defenses only"):
        kernels.score(np.array([[[NO_IMAGE], [1]]]), [1], None, [False])
    with pytest.raises(ShapeError, match="integers"):
        kernels.score(np.zeros((1, 1, 2)), [1, 2], None, [False])
