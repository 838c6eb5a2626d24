"""The SVG figures: inline-ready markup whose text is searchable (names, values, the time limit)."""

from __future__ import annotations

import numpy as np

from advengine.reporting.figures import eps_lines, heatmap, piece_times, score_vs_rank
from advengine.reporting.rundir import Piece
from advengine.reporting.tables import Row


def _row(rank: int, name: str, score: float, baseline: bool) -> Row:
    return Row(rank, name, name, baseline, False, score, 0, 0.0, 1.0, 1.0, False, None, None, 1, 0, 0)


def test_score_vs_rank_labels_baselines_once_per_score() -> None:
    boards = {
        "nontargeted": [_row(1, "mine", 0.9, False), _row(2, "noop", 0.1, True), _row(3, "noise", 0.1, True)],
        "targeted": [],
    }
    svg = score_vs_rank(boards, "paper")
    assert svg.startswith("<svg")
    assert "noop, noise" in svg  # two baselines with one score share one dashed line and label
    assert "Non-targeted attacks" in svg
    assert "Targeted attacks" not in svg  # an empty track gets no panel


def test_heatmap_prints_values_and_dashes_for_missing_cells() -> None:
    svg = heatmap(np.array([[0.25, np.nan]]), ["atk"], ["d1", "d2"], "Accuracy", "Blues")
    assert ">0.25<" in svg
    assert ">–<" in svg
    assert all(name in svg for name in ("atk", "d1", "d2", "Accuracy"))


def test_eps_lines_puts_clean_first() -> None:
    svg = eps_lines([4, 8], {"d": np.array([0.5, 0.4])}, "t", "accuracy", clean={"d": 0.9})
    assert ">clean<" in svg
    assert ">d<" in svg


def test_piece_times_has_a_panel_per_entry() -> None:
    def piece(entry: str, status: str, seconds: float) -> Piece:
        return Piece("attack", entry, None, 0, status, seconds, 4, None, "r.json", None)

    svg = piece_times({"a": [piece("a", "ok", 1.0)], "b": [piece("b", "timeout", 30.0)]}, 30.0)
    assert "a  (1 piece)" in svg
    assert "b  (1 piece)" in svg
    assert "timeout" in svg
    assert 'id="' in svg
    assert svg == piece_times({"a": [piece("a", "ok", 1.0)], "b": [piece("b", "timeout", 30.0)]}, 30.0)
