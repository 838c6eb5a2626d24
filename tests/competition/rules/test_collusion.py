"""The collusion residual on a hand-worked matrix, the team pairs, and the channel probes' ε."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from advengine.competition.artefacts import Matrices
from advengine.competition.projection import project_outputs
from advengine.competition.rules.collusion import PROBES, Pair, residual, team_pairs
from advengine.params import Params
from advengine.types import BuiltinEntry

# Attacks A (the team's own), B, C; defenses D (the team's own), E, F; 9 images a cell, so the smoothed
# accuracy (k + ½) / 10 is 0.05 for k = 0 (logit −ln 19) and 0.95 for k = 9 (logit +ln 19).
L = math.log(19)


def _run(d_on_a: int) -> Any:
    correct = [
        # D   E  F
        [d_on_a, 0, 0],  # A: h_A = mean(−L, −L) = −L
        [0, 9, 0],  # B: h_B = mean(+L, −L) = 0
        [9, 9, 9],  # C: h_C = +L
    ]
    m = Matrices(
        attacks=["A", "B", "C"],
        defenses=["D", "E", "F"],
        correct=correct,
        error=[[9 - c for c in row] for row in correct],
        hit=[[0] * 3] * 3,
        classified=[[9] * 3] * 3,
    )
    return cast(Any, SimpleNamespace(results=SimpleNamespace(matrices=m)))


PAIR = Pair("A", "D", ("B", "C"), ("E", "F"))


def test_residual_by_hand() -> None:
    # c_D = max(logit acc(B, D) − h_B, logit acc(C, D) − h_C) = max(−L − 0, L − L) = 0;
    # predicted on A: σ(c_D + h_A) = σ(−L) = 1 / (1 + 19) = 0.05.
    predicted = 0.05
    found, note = residual(_run(9), PAIR, alpha=1e-3)
    assert found is not None
    assert (found.rule, found.entry, found.partner) == ("collusion", "D", "A")
    # 9 of 9 right where 0.05 is predicted: p = 0.05^9.
    assert found.p_value == pytest.approx(predicted**9)
    assert found.effect == pytest.approx(1 - predicted)
    assert "0.05 predicted" in note


def test_an_honest_defense_is_not_flagged() -> None:
    found, note = residual(_run(0), PAIR, alpha=1e-3)
    assert found is None
    assert note.startswith("collusion with A: 0/9 correct")
    # One image right where 0.05 is predicted: P(X ≥ 1) = 1 − 0.95^9 = 0.37, no residual either.
    assert residual(_run(1), PAIR, alpha=1e-3)[0] is None


def test_without_other_teams_it_is_not_estimable() -> None:
    found, note = residual(_run(9), Pair("A", "D", ("B",), ()), alpha=1e-3)
    assert found is None
    assert "not estimable" in note


def _entry(track: str, label: str, team: str | None) -> BuiltinEntry:
    return BuiltinEntry(track=track, name=label, label=label, params=Params(), team=team)  # type: ignore[arg-type]


def test_team_pairs() -> None:
    attacks = [
        _entry("nontargeted", "a1", "x"),
        _entry("nontargeted", "a2", "x"),
        _entry("targeted", "b", None),
    ]
    defenses = [_entry("defense", "d1", "x"), _entry("defense", "e", "y"), _entry("defense", "f", None)]
    assert team_pairs(attacks, defenses) == [
        Pair("a1", "d1", ("b",), ("e", "f")),
        Pair("a2", "d1", ("b",), ("e", "f")),
    ]
    every = team_pairs(attacks, defenses, everything=True)
    assert len(every) == 9
    assert every[0] == Pair("a1", "d1", ("a2", "b"), ("e", "f"))


@pytest.mark.parametrize("name", sorted(PROBES))
def test_probes_stay_inside_eps_after_projection(name: str) -> None:
    rng = np.random.default_rng(1)
    clean = rng.integers(0, 256, size=(2, 16, 16, 3), dtype=np.uint8)
    adv = np.clip(clean.astype(np.int16) + rng.integers(-4, 5, size=clean.shape), 0, 255).astype(np.uint8)
    moved = project_outputs(PROBES[name](adv, rng), clean, 4)
    assert int(np.abs(moved.astype(np.int16) - clean).max()) <= 4
    assert not np.array_equal(moved, adv)  # each probe does move the pixels
