"""Shared types of every layer: array aliases, tracks and the roster entries.

A leaf module: it imports nothing from advengine but the errors and the params base, so the data,
models, attacks, defenses, competition and submissions layers can all use it without importing each
other (docs/architecture.md, "Layers").
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, Field, SerializeAsAny
from pydantic import Strict as StrictMode

from advengine.params import Params
from advengine.validation import Strict, must, phrased

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
        raise must("letters, digits, '.', '_' or '-' (not 'clean')")
    return value


#: LABEL_PATTERN and "not clean" as one JSON Schema pattern (``advengine config schema``).
LABEL_JSON_PATTERN = r"^(?!clean$)[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

Label = Annotated[
    str, StrictMode(), AfterValidator(_check_label), Field(json_schema_extra={"pattern": LABEL_JSON_PATTERN})
]

SandboxChoice = Literal["auto", "bwrap", "docker", "unsafe-none"]
SANDBOX_CHOICES: tuple[SandboxChoice, ...] = ("auto", "bwrap", "docker", "unsafe-none")


# Strict and finite, as the JSON Schema says: "2" and true are no CPU counts, and inf is none either.
NonNegative = Annotated[float, StrictMode(), Field(ge=0, allow_inf_nan=False), phrased("a number >= 0")]


class Resources(Strict):
    """What one piece of an entry reserves on a Ray cluster (``advengine eval --executor ray``); the
    local executors ignore it. Not part of the results: a resumed run may change it."""

    num_cpus: NonNegative = 1.0
    """CPUs reserved per piece."""
    num_gpus: NonNegative = 0.0
    """GPUs reserved per piece; a fraction (0.25) lets pieces share a GPU."""


Team = Annotated[str, StrictMode(), Field(min_length=1), phrased("a non-empty team name")]


class Membership(Strict):
    """Who an entry belongs to: its team (``proposal`` scoring leaves a team's own entries out of its
    scores) and whether it is one of the organisers' baselines (per-round summaries compare the top
    entry with the best baseline)."""

    team: Team | None = None
    """The team that owns the entry (default: none, an entry of its own)."""
    baseline: Annotated[bool, StrictMode()] = False
    """One of the organisers' baselines (not a team's entry)."""

    def membership_json(self) -> dict[str, Any]:
        """The keys that are set (so the fingerprint of a roster without them is unchanged)."""
        out: dict[str, Any] = {"team": self.team} if self.team is not None else {}
        return out | ({"baseline": True} if self.baseline else {})


class _Entry(Membership, Resources):
    """What every roster entry has: the track it competes in and its label (its name in the results),
    its team, and what its pieces reserve on a cluster."""

    #: The module that runs this kind of entry (imported in each worker before its first piece), so
    #: the engine never needs to know the kinds that packages above it add.
    runner: ClassVar[str]

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

    def for_run(self, time_limit: float, log_root: str) -> Self:
        """This entry as one run runs it (the run's time limit and log directory, where it uses them)."""
        return self


class BuiltinEntry(_Entry):
    """A registered attack or defense with its typed parameters (parsed once, when the roster is read)
    and its source models."""

    runner: ClassVar[str] = "advengine.competition.pieces"

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
            **self.membership_json(),
        }


PositiveCount = Annotated[int, StrictMode(), Field(gt=0), phrased("a positive integer")]


class SandboxSettings(Strict):
    """How one submission is confined: the sandbox and the budget of each of its runs."""

    sandbox: SandboxChoice = "auto"
    """bubblewrap, Docker, "auto" (the first available) or "unsafe-none" (no confinement)."""
    memory_mb: PositiveCount = 8192
    """Memory of the whole run in MiB: every process, /tmp and the outputs (a cgroup per run)."""
    nproc: PositiveCount = 256
    """Processes the run may have at once."""
    fsize_mb: PositiveCount = 1024
    """Largest file a process may write, in MiB."""
    disk_mb: PositiveCount = 2048
    """/tmp and the output dir together, in MiB."""
    gpus: Annotated[str, StrictMode(), phrased("a docker --gpus value such as 'all'")] = ""
    """Docker only: the ``--gpus`` value ("all", "device=0"); the run then uses ``container_gpu``."""


#: SandboxSettings keys added later (the per-run disk budget, Docker GPUs).
_LATER_SETTINGS = ("disk_mb", "gpus")


class SubmissionTable(SandboxSettings, Membership, Resources):
    """One ``[[submissions]]`` table of a competition TOML: an original NIPS 2017 submission; its
    track comes from its metadata.json."""

    path: Annotated[
        str, StrictMode(), Field(min_length=1), phrased("the path of a submission dir or archive")
    ] = Field(default="", validate_default=True)
    """The submission's directory or archive (.zip, .tar, .tar.gz), relative to the config file."""
    label: Label | None = None
    """The name in the results (default: the directory or archive name without the extension)."""


class SubmissionEntry(_Entry):
    """An original NIPS 2017 submission (a directory or archive) run in a sandbox; its track comes from
    its metadata.json."""

    runner: ClassVar[str] = "advengine.submissions.adapter"

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

    def for_run(self, time_limit: float, log_root: str) -> Self:
        return self.model_copy(update={"time_limit": time_limit, "log_root": log_root})

    @property
    def models(self) -> tuple[str, ...]:
        return ()

    def to_json(self) -> dict[str, Any]:
        settings = self.settings.model_dump()
        # Keys added after run dirs existed appear only when set, so an older run still resumes
        # (its fingerprint is unchanged).
        for key in _LATER_SETTINGS:
            if settings[key] == SandboxSettings.model_fields[key].default:
                del settings[key]
        params: dict[str, Any] = {**settings, "digest": self.digest}
        if self.time_limit is not None:
            params |= {"time_limit": self.time_limit, "log_root": self.log_root}
        return {
            "track": self.track,
            "name": self.name,
            "label": self.label,
            "params": params,
            "models": [],
            "submission": self.path,
            **self.membership_json(),
        }


#: One roster entry; ``kind`` tells which.
Entry = Annotated[BuiltinEntry | SubmissionEntry, Field(discriminator="kind")]


__all__ = [
    "CLEAN",
    "LABEL_JSON_PATTERN",
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
    "Membership",
    "Resources",
    "SandboxChoice",
    "SandboxSettings",
    "SubmissionEntry",
    "SubmissionTable",
    "Team",
    "Track",
]
