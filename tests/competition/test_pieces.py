"""Pieces: every entry kind runs through its registration; built-ins get their typed params as is."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from advengine.competition.pieces import AttackInputs, DefenseInputs, run_piece
from advengine.context import RunContext
from advengine.params import Params
from advengine.types import BuiltinEntry

IMAGES = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
NOOP = BuiltinEntry(track="nontargeted", name="noop", label="noop", params=Params())


def test_builtin_pieces_run_the_registered_class() -> None:
    out = run_piece(NOOP, AttackInputs(IMAGES, 4, None, 0), RunContext())
    np.testing.assert_array_equal(out, IMAGES)
    with pytest.raises(TypeError, match="this piece needs AttackInputs, got DefenseInputs"):
        run_piece(NOOP, DefenseInputs(IMAGES, 0), RunContext())


def test_the_submission_kind_is_imported_by_name_on_first_use() -> None:
    # A fresh interpreter that imports only the competition: the kind's module comes in on demand.
    code = (
        "import sys\n"
        "from advengine.competition.pieces import entry_kind\n"
        "from advengine.types import SubmissionEntry\n"
        "assert 'advengine.submissions' not in sys.modules\n"
        "kind = entry_kind('submission', SubmissionEntry.runner)\n"
        "assert kind.resolve is not None and 'advengine.submissions.adapter' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
