"""The strength ranking on a 3 × 3 matrix worked out by hand, and ``ranking = "strength"`` in a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.competition.conftest import MakeConfig, oracle

from advengine.competition import run_competition
from advengine.competition.strength import strengths

# Three non-targeted attacks × three defenses, n = 7 images a cell. Correct labels:
#
#          d1  d2  d3
#     a1    0   1   2
#     a2    1   4   7
#     a3    0   1   2
#
# and the successes are the rest (7 − correct). Smoothed, L = (correct + ½)/8 and W = (success + ½)/8,
# in sixteenths:
#
#     L = [1 3 5; 3 9 15; 1 3 5] / 16        W = [15 13 11; 13 7 1; 15 13 11] / 16
#
# Every row of L is proportional to (1, 3, 5), so every row of P_AD is (1, 3, 5)/9: the walker goes
# from any attack to d1, d2, d3 with probabilities 1/9, 3/9, 5/9. Then s_D = s_A P_AD = (1, 3, 5)/9
# whatever s_A is: d3, which stops most attacks, is the strongest.
#
# P_DA is W's columns normalised: the column sums are 43, 33 and 23 (sixteenths), so
#     P_DA[d1] = (15, 13, 15)/43,  P_DA[d2] = (13, 7, 13)/33,  P_DA[d3] = (11, 1, 11)/23.
# The attacks' stationary distribution satisfies s_A = s_A P_AD P_DA = s_D P_DA, so
#     s_a1 = s_a3 = (1/9)(15/43) + (3/9)(13/33) + (5/9)(11/23)
#                 = (0.348837 + 1.181818 + 2.391304) / 9 = 3.921960 / 9 = 0.435773
#     s_a2        = (1/9)(13/43) + (3/9)(7/33) + (5/9)(1/23)
#                 = (0.302326 + 0.636364 + 0.217391) / 9 = 1.156081 / 9 = 0.128453
# (and 2 · 0.435773 + 0.128453 = 1).
CORRECT = np.array([[0, 1, 2], [1, 4, 7], [0, 1, 2]], dtype=np.float64)


def test_strengths_by_hand() -> None:
    s_att, s_def = strengths(CORRECT, 7 - CORRECT, np.full((3, 3), 7.0))
    assert s_def == pytest.approx([1 / 9, 3 / 9, 5 / 9], abs=1e-9)
    assert s_att == pytest.approx([0.435773, 0.128453, 0.435773], abs=1e-6)
    assert s_att.sum() == pytest.approx(1.0)


def test_beating_a_strong_defense_counts_more() -> None:
    # d1 stops every attack but a1; d2 stops none. a1 and a2 have the same number of successes (7 of 14),
    # a1's against d1, the strong defense, and a2's against d2: a1 is the stronger.
    correct = np.array([[0, 7], [7, 0], [7, 0]], dtype=np.float64)
    s_att, s_def = strengths(correct, 7 - correct, np.full((3, 2), 7.0))
    assert s_att[0] > s_att[1]
    assert s_att[1] == pytest.approx(s_att[2])
    assert s_def[0] > s_def[1]


def test_no_opponents_gives_no_strength() -> None:
    s_att, s_def = strengths(np.zeros((2, 0)), np.zeros((2, 0)), np.zeros((2, 0)))
    assert np.isnan(s_att).all()
    assert s_def.shape == (0,)


def test_strength_ranking_in_a_run(make_config: MakeConfig, sample_dir: str, tmp_path: Path) -> None:
    cfg = make_config(
        ranking="strength",
        attacks=[{"name": "noop"}, {"name": "fake-shift"}],
        defenses=[oracle(sample_dir), {"name": "fake-constant"}],
    )
    results = run_competition(cfg, tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    assert doc["ranking"] == "strength"
    assert doc["config"]["ranking"] == "strength"
    strength = {x["name"]: x["strength"] for x in doc["attacks"] + doc["defenses"]}
    assert sum(strength[a] for a in ("noop", "fake-shift")) == pytest.approx(1.0)
    assert strength["fake-oracle"] > strength["fake-constant"]
    assert [x.name for x in results.defenses] == ["fake-oracle", "fake-constant"]
    board = (tmp_path / "run" / "leaderboard.md").read_text()
    assert "| rank | name | strength | score |" in board
    html_cols = (tmp_path / "run" / "defense_ranking.csv").read_text().splitlines()
    assert html_cols[1].startswith("fake-oracle,")


def test_score_ranking_leaves_results_as_they_were(make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(attacks=[{"name": "noop"}], defenses=[{"name": "fake-constant"}])
    run_competition(cfg, tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    assert "ranking" not in doc
    assert "ranking" not in doc["config"]
    assert all("strength" not in x for x in doc["attacks"] + doc["defenses"])


def test_ranking_in_the_schema_and_a_bad_value_is_one_line() -> None:
    from advengine.competition.config import config_schema, parse_config
    from advengine.errors import ConfigError

    prop = config_schema()["properties"]["ranking"]
    assert (prop["enum"], prop["default"]) == (["score", "strength"], "score")
    with pytest.raises(ConfigError, match=r"test.toml: ranking .*'score'.*'strength'"):
        parse_config({"ranking": "pagerank"}, source="test.toml")
