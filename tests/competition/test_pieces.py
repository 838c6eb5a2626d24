"""Pieces: every entry kind runs through its registration; built-ins get their typed params as is."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from advengine.competition import pieces
from advengine.competition.pieces import AttackInputs, DefenseInputs, run_piece
from advengine.context import RunContext
from advengine.params import Params
from advengine.types import BuiltinEntry, SubmissionEntry

IMAGES = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
NOOP = BuiltinEntry(track="nontargeted", name="noop", label="noop", params=Params())


def test_builtin_pieces_run_the_registered_class() -> None:
    out = run_piece(NOOP, AttackInputs(IMAGES, 4, None, 0), RunContext())
    np.testing.assert_array_equal(out, IMAGES)
    with pytest.raises(TypeError, match="this piece needs AttackInputs, got DefenseInputs"):
        run_piece(NOOP, DefenseInputs(IMAGES, 0), RunContext())


def test_the_submission_kind_is_imported_by_name_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in a fresh worker: neither the kind nor its module is loaded until an entry needs it.
    monkeypatch.setattr(pieces, "_KINDS", {k: v for k, v in pieces._KINDS.items() if k != "submission"})
    monkeypatch.delitem(sys.modules, SubmissionEntry.runner, raising=False)
    kind = pieces.entry_kind("submission", SubmissionEntry.runner)
    assert kind.resolve is not None
    assert SubmissionEntry.runner in sys.modules
