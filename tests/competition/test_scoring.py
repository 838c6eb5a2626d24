"""Scoring equals hand-computed examples, in the aggregation and through whole runs in both modes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.competition.conftest import MakeConfig, oracle

from advengine.competition import aggregate, run_competition
from advengine.competition.scoring import MISSING, NO_IMAGE, headline


def test_aggregate_hand_example() -> None:
    # Two attacks (non-targeted, targeted) × two defenses × three images.
    truth, target = np.array([1, 2, 3]), np.array([7, 8, 9])
    preds = np.array(
        [
            [[1, 5, MISSING], [1, 2, 3]],
            [[7, 2, NO_IMAGE], [7, 8, NO_IMAGE]],
        ]
    )
    s = aggregate(preds, truth, target, np.array([False, True]))
    assert s.correct.tolist() == [[1, 3], [1, 0]]
    assert s.error.tolist() == [[1, 0], [1, 2]]
    assert s.hit.tolist() == [[0, 0], [1, 2]]
    assert s.classified.tolist() == [[2, 3], [2, 2]]
    assert s.produced.tolist() == [3, 2]
    # The targeted attack missed image 2: it does not score defenses.
    assert s.attacks_used.tolist() == [True, False]
    # Defense 0 left one of the 5 produced images unlabelled: it does not score attacks.
    assert s.defenses_used.tolist() == [False, True]
    assert s.defense_raw.tolist() == [1, 3]
    assert s.defense_score.tolist() == [1 / 3, 1.0]
    assert s.defense_worst.tolist() == [1 / 3, 1.0]
    assert s.attack_raw.tolist() == [0, 2]
    assert s.attack_score.tolist() == [0.0, 2 / 3]
    assert s.attack_worst.tolist() == [0.0, 2 / 3]


def test_aggregate_without_opponents_is_nan() -> None:
    s = aggregate(np.zeros((0, 1, 2), dtype=np.int64), np.array([1, 2]), np.array([3, 4]), np.zeros(0, bool))
    assert np.isnan(s.defense_score).all()
    assert np.isnan(s.defense_worst).all()
    assert s.defense_raw.tolist() == [0]


@pytest.mark.parametrize("mode", ["paper", "original"])
def test_run_scores_match_hand_computation(
    mode: str, make_config: MakeConfig, sample_dir: str, tmp_path: Path
) -> None:
    # 8 images. The oracle always answers the true label, the "target oracle" always the target class;
    # the constant defense answers the true label of image 0 (which no other of the 8 images shares).
    truth = [389, 577, 327, 138, 91, 982, 472, 304]
    cfg = make_config(
        scoring=mode,
        attacks=[{"name": "noop"}, {"name": "fake-shift"}],
        targeted_attacks=[{"name": "fake-target-noop"}],
        defenses=[
            oracle(sample_dir),
            {**oracle(sample_dir, target=True), "label": "target-oracle"},
            {"name": "fake-constant", "params": {"label": truth[0]}},
        ],
    )
    results = run_competition(cfg, tmp_path / "run")
    assert results.mode == mode
    by = {x.name: x for x in results.attacks + results.defenses}
    # Defense raw = correct answers over 3 attacks × 8 images: oracle 24, target oracle 0, constant 3.
    assert [by[d].raw_score for d in ("fake-oracle", "target-oracle", "fake-constant")] == [24, 0, 3]
    # Non-targeted raw = misclassifications over 3 defenses: 0 + 8 + 7 = 15 for each attack.
    assert by["noop"].raw_score == by["fake-shift"].raw_score == 15
    # Targeted raw = target hits: only the target oracle, 8.
    assert by["fake-target-noop"].raw_score == 8
    if mode == "paper":
        assert by["fake-oracle"].score == 1.0
        assert by["fake-constant"].score == pytest.approx(3 / 24)
        assert by["noop"].score == pytest.approx(15 / 24)
        assert by["fake-target-noop"].score == pytest.approx(8 / 24)
    else:
        assert [by[n].score for n in ("fake-oracle", "fake-constant", "noop", "fake-target-noop")] == [
            24,
            3,
            15,
            8,
        ]
    # Worst case: the constant defense is right once per attack only on the ε=4 batch (image 0).
    assert by["fake-constant"].worst_score == pytest.approx(1 / 8)
    assert by["noop"].worst_score == 0.0  # the oracle is never fooled
    assert by["fake-target-noop"].worst_score == 0.0
    assert results.exclusions == []
    # Per ε: image 0 is in the ε=4 batch, so the constant defense is right 3 times out of 12 there.
    eps4 = next(p for p in results.per_eps if p.eps == 4)
    expected = 3 if mode == "original" else 3 / 12
    assert eps4.defenses["fake-constant"] == pytest.approx(expected)
    # The original toolkit's files carry the same numbers.
    out = tmp_path / "run"
    assert (out / "accuracy_on_attacks.csv").read_text().splitlines() == [
        ",fake-oracle,target-oracle,fake-constant",
        "noop,8,0,1",
        "fake-shift,8,0,1",
    ]
    assert (out / "hit_target_class.csv").read_text().splitlines()[1] == "fake-target-noop,0,8,0"
    ranking = (out / "defense_ranking.csv").read_text().splitlines()
    assert ranking[0] == "DefenseName,Score"
    assert [r.split(",")[0] for r in ranking[1:]] == ["fake-oracle", "fake-constant", "target-oracle"]
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["attacks"] == results.to_json()["attacks"]


def _reference(
    preds: np.ndarray, truth: np.ndarray, target: np.ndarray, targeted: np.ndarray
) -> dict[str, Any]:
    """The scoring rules written out in numpy, as an independent check of the Rust kernel."""
    n = preds.shape[2]
    labelled = preds >= 0
    correct = (labelled & (preds == truth)).sum(axis=2)
    success = np.where(
        targeted[:, None],
        (labelled & (preds == target)).sum(axis=2),
        (labelled & (preds != truth)).sum(axis=2),
    )
    produced = (preds[:, 0, :] != NO_IMAGE).sum(axis=1)
    used_a = produced == n
    used_d = labelled.sum(axis=2).sum(axis=0) == produced.sum()
    return {
        "defense_raw": (correct * used_a[:, None]).sum(axis=0),
        "attack_raw": (success * used_d[None, :]).sum(axis=1),
        "attacks_used": used_a,
        "defenses_used": used_d,
        "defense_worst": correct[used_a].min(axis=0) / n if used_a.any() else None,
        "attack_worst": success[:, used_d].min(axis=1) / n if used_d.any() else None,
    }


@settings(max_examples=60)
@given(st.data())
def test_aggregate_matches_the_rules(data: st.DataObject) -> None:
    na, nd, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    truth, target = rng.integers(1, 4, n), rng.integers(1, 4, n)
    targeted = rng.random(na) < 0.5
    preds = rng.integers(-1, 4, (na, nd, n))
    preds[:, :, :][rng.random((na, n))[:, None, :].repeat(nd, axis=1) < 0.1] = NO_IMAGE
    got = aggregate(preds, truth, target, targeted)
    want = _reference(preds, truth, target, targeted)
    for key in ("defense_raw", "attack_raw", "attacks_used", "defenses_used"):
        assert getattr(got, key).tolist() == want[key].tolist(), key
    for key in ("defense_worst", "attack_worst"):
        if want[key] is None:
            assert np.isnan(getattr(got, key)).all()
        else:
            assert np.allclose(getattr(got, key), want[key])


HAND = (
    np.array([[[1, 5, MISSING], [1, 2, 3]], [[7, 2, NO_IMAGE], [7, 8, NO_IMAGE]]]),
    np.array([1, 2, 3]),
    np.array([7, 8, 9]),
    np.array([False, True]),
)


def test_original_and_devkit_policies_by_hand() -> None:
    # The hand example above. original: EVALINFRA's filters (attack 1 and defense 0 not used), raw.
    original = aggregate(*HAND, mode="original")
    assert (original.attack_raw.tolist(), original.defense_raw.tolist()) == ([0, 2], [1, 3])
    assert [headline("original", r, 0.0) for r in original.attack_raw.tolist()] == [0, 2]
    # devkit: everybody used; defense 0's missing label on image 2 is a success for the non-targeted
    # attack (error 1 + missing 1 against defense 0, none against defense 1) and a miss for the targeted
    # one (hits 1 + 2); a defense is correct only where it labelled: 1 + 1 and 3 + 0.
    devkit = aggregate(*HAND, mode="devkit")
    assert devkit.attacks_used.all()
    assert devkit.defenses_used.all()
    assert (devkit.attack_raw.tolist(), devkit.defense_raw.tolist()) == ([2, 3], [2, 3])
    assert devkit.attack_score.tolist() == [2 / 6, 3 / 6]
    assert headline("devkit", 2, 2 / 6) == 2
    # paper: the same filters as original, normalised.
    paper = aggregate(*HAND, mode="paper")
    assert paper.defense_score.tolist() == [1 / 3, 1.0]
    assert headline("paper", 1, 1 / 3) == 1 / 3


def test_proposal_policy_leaves_a_teams_own_entries_out_by_hand() -> None:
    # Two non-targeted attacks × two defenses × two images, every image labelled.
    truth, target = np.array([1, 2]), np.array([7, 8])
    preds = np.array([[[5, 2], [3, 4]], [[1, 2], [3, 4]]])
    targeted = np.array([False, False])
    # errors: a0: d0 1, d1 2; a1: d0 0, d1 2. correct: a0: d0 1, d1 0; a1: d0 2, d1 0.
    paper = aggregate(preds, truth, target, targeted, mode="paper")
    assert paper.attack_score.tolist() == [3 / 4, 2 / 4]
    assert paper.defense_score.tolist() == [3 / 4, 0.0]
    # a0 and d1 are team "red": a0 is scored against d0 alone, d1 against a1 alone; d0 has no team.
    prop = aggregate(preds, truth, target, targeted, mode="proposal", attack_teams=["red", "blue"],
                     defense_teams=[None, "red"])  # fmt: skip
    assert prop.attack_raw.tolist() == [1, 2]
    assert prop.attack_score.tolist() == [1 / 2, 2 / 4]
    assert prop.attack_worst.tolist() == [1 / 2, 0.0]
    assert prop.defense_raw.tolist() == [3, 0]
    assert prop.defense_score.tolist() == [3 / 4, 0 / 2]
    assert prop.defense_worst.tolist() == [1 / 2, 0.0]
    # The counts themselves are not changed by the rule.
    assert np.array_equal(prop.error, paper.error)
    # A team that owns every opponent has none left: no score.
    alone = aggregate(preds, truth, target, targeted, mode="proposal", attack_teams=["red", "red"],
                      defense_teams=["red", "red"])  # fmt: skip
    assert np.isnan(alone.attack_score).all()
    assert np.isnan(alone.defense_worst).all()
