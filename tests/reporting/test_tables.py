"""Leaderboard rows, rate matrices and the per-ε curves of a hand-made run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.reporting.conftest import Builder, full_run, results_json

from advengine.reporting import load_run
from advengine.reporting.tables import clean_accuracy, eps_curves, leaderboard, rate_matrix


def test_leaderboards_rank_by_score_with_the_papers_columns(builder: Builder) -> None:
    b = builder()
    full_run(b)
    view = load_run(b.root)
    rows = leaderboard(view, "nontargeted")
    assert [(r.rank, r.name) for r in rows] == [(1, "fgsm-x"), (2, "noop")]
    fgsm = rows[0]
    assert (fgsm.raw, fgsm.worst, fgsm.median_seconds) == (12, 0.5, 2.5)
    assert fgsm.seconds_per_100 == pytest.approx(2.5 / 4 * 100)
    assert (fgsm.ok, fgsm.failed, fgsm.missing) == (2, 0, 0)
    defenses = leaderboard(view, "defense")
    assert [(r.name, r.clean_accuracy) for r in defenses] == [("good", 1.0), ("bad", 0.0)]
    assert defenses[1].robust_accuracy == 0.0
    # A defense's time is over adversarial batches only (0.5 s each here).
    assert defenses[0].median_seconds == 0.5
    assert [r.name for r in leaderboard(view, "targeted")] == ["tgt"]


def test_ties_rank_by_name_and_failed_and_missing_pieces_are_counted(builder: Builder) -> None:
    b = builder()
    b.attack("noop", 0, status="crashed", seconds=0.1)
    rows = leaderboard(load_run(b.root), "nontargeted")
    # Nothing labelled yet: both score 0 under the rules, and both are excluded (images missing).
    assert [(r.rank, r.name, r.score, r.excluded) for r in rows] == [
        (1, "fgsm-x", 0.0, True),
        (2, "noop", 0.0, True),
    ]
    assert (rows[0].failed, rows[0].missing) == (0, 2)
    assert (rows[1].failed, rows[1].missing, rows[1].median_seconds) == (1, 1, None)


def test_an_entry_without_a_score_has_no_rank(builder: Builder) -> None:
    b = builder()
    full_run(b)
    (b.root / "results.json").write_text(results_json([("noop", None), ("fgsm-x", 0.1)]))
    rows = leaderboard(load_run(b.root), "nontargeted")
    assert [(r.rank, r.name) for r in rows] == [(1, "fgsm-x"), (None, "noop")]


def test_rate_matrices_are_over_labelled_images(builder: Builder) -> None:
    b = builder()
    full_run(b)
    view = load_run(b.root)
    acc = rate_matrix(view, "correct")
    hit = rate_matrix(view, "hit")
    assert acc is not None
    assert hit is not None
    assert acc.tolist() == [[1.0, 0.0], [0.5, 0.0], [0.5, 0.0]]
    assert hit[2, 0] == 0.5
    assert clean_accuracy(view).tolist() == [1.0, 0.0]


def test_an_unlabelled_pair_is_nan(builder: Builder) -> None:
    b = builder()
    b.attack("noop", 0)
    b.defense("good", "noop", 0, b.truth(0))
    acc = rate_matrix(load_run(b.root), "correct")
    assert acc is not None
    assert acc[0, 0] == 1.0
    assert math.isnan(acc[0, 1])
    assert math.isnan(acc[1, 0])


def test_eps_curves(builder: Builder) -> None:
    b = builder()
    full_run(b)
    curves = eps_curves(load_run(b.root))
    assert curves is not None
    assert curves.eps == [4, 8]
    assert curves.defense_accuracy[0].tolist() == pytest.approx([1.0, 4 / 12])
    assert curves.defense_accuracy[1].tolist() == [0.0, 0.0]
    # fgsm-x: wrong on `bad` always, on `good` at ε 8; tgt hits on `good` at ε 8.
    assert curves.attack_success[1].tolist() == [0.5, 1.0]
    assert curves.attack_success[2].tolist() == [0.0, 0.5]


def test_no_curves_without_the_dataset(builder: Builder, tmp_path: object) -> None:
    b = builder(dataset_dir="/nonexistent/dataset")
    full_run(b)
    view = load_run(b.root)
    assert eps_curves(view) is None
    assert rate_matrix(view, "correct") is None
    assert np.isnan(clean_accuracy(view)).all()
