"""Shared types of every layer: array aliases, tracks and the roster entries.

A leaf module: it imports nothing from advengine but the errors and the params base, so the data,
models, attacks, defenses, competition and submissions layers can all use it without importing each
other (docs/architecture.md, "Layers").
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PositiveInt, SerializeAsAny
from pydantic_core import PydanticCustomError

from advengine.params import Params

#: ``uint8 [n, h, w, 3]`` RGB in 0..255: files, submissions, kernels, the Attack/Defense contract.
ImagesU8 = npt.NDArray[np.uint8]
#: ``float32 [n, 3, h, w]`` in [0, 1]: model inputs and the inside of the attacks.
ImagesF32 = npt.NDArray[np.float32]
#: TF-Slim labels (1..1000, 0 = background) or class indices (label − 1), one per image.
Labels = npt.NDArray[np.int64]

#: The two attack tracks of NIPS 2017.
AttackTrack = Literal["nontargeted", "targeted"]
#: The three competition tracks; a roster entry competes in exactly one.
Track = Literal["nontargeted", "targeted", "defense"]
TRACKS: tuple[Track, ...] = ("nontargeted", "targeted", "defense")
#: The defense-on-clean-images rows use this attack name; no roster entry may take it.
CLEAN = "clean"
#: Labels become directory names, so they are kept to a portable alphabet (and are never CLEAN).
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _check_label(value: str) -> str:
    if value == CLEAN or not LABEL_PATTERN.match(value):
        raise PydanticCustomError("label", "must be letters, digits, '.', '_' or '-' (not 'clean')")
    return value


Label = Annotated[str, AfterValidator(_check_label)]

SandboxChoice = Literal["auto", "bwrap", "docker", "unsafe-none"]
SANDBOX_CHOICES: tuple[SandboxChoice, ...] = ("auto", "bwrap", "docker", "unsafe-none")


class _Entry(BaseModel):
    """What every roster entry has: the track it competes in and its label (its name in the results)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    track: Track
    label: Label

    @property
    def key(self) -> str:
        """Identifies the built piece inside a warm worker (same key → same instance), so it covers
        everything the instance is built from, not just the label."""
        spec = json.dumps(self.to_json(), sort_keys=True)
        return f"{self.track}/{self.label}/{hashlib.sha256(spec.encode()).hexdigest()[:16]}"

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError


class BuiltinEntry(_Entry):
    """A registered attack or defense with its typed parameters (parsed once, when the roster is read)
    and its source models."""

    kind: Literal["builtin"] = "builtin"
    name: str
    params: SerializeAsAny[Params]
    #: The parameters as written in the roster: results.json and the resume fingerprint record these,
    #: not the defaults they were merged with.
    given: dict[str, Any] = Field(default_factory=dict)
    models: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "track": self.track,
            "name": self.name,
            "label": self.label,
            "params": dict(self.given),
            "models": list(self.models),
        }


class SandboxSettings(BaseModel):
    """How one submission is confined: the sandbox and its per-run resource limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sandbox: SandboxChoice = "auto"
    memory_mb: PositiveInt = 8192
    nproc: PositiveInt = 256
    fsize_mb: PositiveInt = 1024


class SubmissionEntry(_Entry):
    """An original NIPS 2017 submission (a directory or archive) run in a sandbox; its track comes from
    its metadata.json."""

    kind: Literal["submission"] = "submission"
    #: Absolute path of the submission directory or archive.
    path: str
    #: Content hash, so ``--resume`` refuses a changed submission.
    digest: str
    settings: SandboxSettings = SandboxSettings()
    #: The run's time limit per piece and log directory, set by :meth:`for_run` when a run starts.
    time_limit: float | None = None
    log_root: str | None = None

    @property
    def name(self) -> str:
        return "submission"

    @property
    def models(self) -> tuple[str, ...]:
        return ()

    def to_json(self) -> dict[str, Any]:
        params: dict[str, Any] = {**self.settings.model_dump(), "digest": self.digest}
        if self.time_limit is not None:
            params |= {"time_limit": self.time_limit, "log_root": self.log_root}
        return {
            "track": self.track,
            "name": self.name,
            "label": self.label,
            "params": params,
            "models": [],
            "submission": self.path,
        }


#: One roster entry; ``kind`` tells which.
Entry = Annotated[BuiltinEntry | SubmissionEntry, Field(discriminator="kind")]


__all__ = [
    "CLEAN",
    "LABEL_PATTERN",
    "SANDBOX_CHOICES",
    "TRACKS",
    "AttackTrack",
    "BuiltinEntry",
    "Entry",
    "ImagesF32",
    "ImagesU8",
    "Label",
    "Labels",
    "SandboxChoice",
    "SandboxSettings",
    "SubmissionEntry",
    "Track",
]
