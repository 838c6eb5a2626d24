"""Original submissions as competition pieces: the ``submission`` entry kind.

Importing this module registers the kind with :mod:`advengine.competition.pieces` (the engine and
every worker import it by the name :attr:`SubmissionEntry.runner` gives), so the engine runs a
submission exactly as it runs a built-in attack or defense.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from advengine.competition.pieces import DefenseInputs, EntryKind, Inputs, register_kind
from advengine.context import RunContext
from advengine.submissions.archive import Submission, load_submission
from advengine.submissions.reaper import temp_dir
from advengine.submissions.roster import make_entry
from advengine.submissions.runner import Settings, run_attack, run_defense
from advengine.submissions.sandbox import Limits
from advengine.types import SubmissionEntry

#: The engine's limit when an entry was not bound to a run (a piece run outside the engine).
DEFAULT_TIME_LIMIT = 500.0


#: Seconds after the submission's own kill (limit + grace) to read its outputs and save its logs.
COLLECT_SECONDS = 30.0


def _limit(entry: SubmissionEntry) -> float:
    return entry.time_limit if entry.time_limit is not None else DEFAULT_TIME_LIMIT


def _grace(limit: float) -> float:
    return min(10.0, 0.1 * limit)


def settings_of(entry: SubmissionEntry) -> Settings:
    """Run settings of an entry: the submission gets the run's full time limit (EVALINFRA's 500 s from
    container start), then SIGTERM and SIGKILL ``grace`` seconds later as ``docker stop`` did."""
    limit = _limit(entry)
    s = entry.settings
    limits = Limits(
        memory_bytes=s.memory_mb << 20,
        nproc=s.nproc,
        fsize_bytes=s.fsize_mb << 20,
        disk_bytes=s.disk_mb << 20,
    )
    return Settings(s.sandbox, limits, limit, _grace(limit), s.gpus or None)


def overrun(entry: SubmissionEntry, time_limit: float) -> float:
    """The engine's kill comes after the submission's own: its grace plus time to collect outputs."""
    return _grace(time_limit) + COLLECT_SECONDS


_LOADED: dict[str, Submission] = {}


def _loaded(path: str) -> Submission:
    """The submission unpacked once per process (workers each keep their own copy)."""
    sub = _LOADED.get(path)
    if sub is None:
        work = temp_dir("advengine-subs-")  # removed by the reaper however this process ends
        sub = load_submission(Path(path), work / "s")
        _LOADED[path] = sub
    return sub


@dataclasses.dataclass(frozen=True)
class SubmissionPiece:
    """One batch through the submission: a list of images (None = missing) or labels (−1 = missing)."""

    entry: SubmissionEntry

    def __call__(self, inputs: Inputs) -> Any:
        sub = _loaded(self.entry.path)
        settings = settings_of(self.entry)
        root = self.entry.log_root
        log_dir = Path(root, *inputs.piece.parts) if root and inputs.piece else None
        if isinstance(inputs, DefenseInputs):
            labels, _ = run_defense(sub, inputs.images, settings, log_dir)
            return labels
        images, _ = run_attack(sub, inputs.images, inputs.eps, inputs.target_classes, settings, log_dir)
        return images


def _build(entry: SubmissionEntry, context: RunContext) -> SubmissionPiece:
    # The submission runs in its own sandbox with its own framework: the run's ONNX Runtime
    # settings are not its. Unpacking it is the warm-up, outside the piece's time limit.
    _loaded(entry.path)
    return SubmissionPiece(entry)


register_kind("submission", EntryKind(build=_build, resolve=make_entry, overrun=overrun))


__all__ = ["COLLECT_SECONDS", "DEFAULT_TIME_LIMIT", "SubmissionPiece", "overrun", "settings_of"]
