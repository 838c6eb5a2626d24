"""Training checkpoints: one ``.npz`` with the denoiser's parameters, Adam's moments and a JSON record
(step, Adam's update count, the sampler's RNG state, the loss of every step, the wall time, the
settings), written atomically so a run killed at any moment resumes from the last complete one."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.errors import CheckpointError, ConfigError
from advengine.files import atomic_write

F32 = npt.NDArray[np.float32]
FORMAT = 1


@dataclass
class Checkpoint:
    step: int
    params: dict[str, F32]
    adam_m: dict[str, F32]
    adam_v: dict[str, F32]
    adam_t: int
    #: ``np.random.Generator.bit_generator.state`` of the sampler (batches and augmentation).
    rng_state: dict[str, Any]
    #: Mean per-sample loss of every step so far.
    losses: list[float]
    #: Training wall time so far, over every session of the run.
    seconds: float
    settings: dict[str, Any]
    #: Wall time and machine notes per session (appended on every start or resume).
    sessions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def first(cls, params: dict[str, F32], rng: np.random.Generator, settings: dict[str, Any]) -> Checkpoint:
        """Step 0 of a run: the initial ``params``, zero Adam moments, the seeded sampler ``rng``."""
        zeros = {k: np.zeros_like(v) for k, v in params.items()}
        return cls(
            0,
            params,
            zeros,
            {k: v.copy() for k, v in zeros.items()},
            0,
            dict(rng.bit_generator.state),
            [],
            0.0,
            settings,
        )


def save_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    arrays: dict[str, F32] = {}
    for prefix, group in (("param", ckpt.params), ("m", ckpt.adam_m), ("v", ckpt.adam_v)):
        arrays.update({f"{prefix}/{k}": v for k, v in group.items()})
    meta = {
        "format": FORMAT,
        "step": ckpt.step,
        "adam_t": ckpt.adam_t,
        "rng_state": ckpt.rng_state,
        "losses": ckpt.losses,
        "seconds": ckpt.seconds,
        "settings": ckpt.settings,
        "sessions": ckpt.sessions,
    }
    buf = io.BytesIO()
    np.savez(buf, meta=np.asarray(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
    atomic_write(path, buf.getvalue())


def load_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint at ``path``; a missing or damaged file is one CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; start without --resume, or point --out at a run dir")
    try:
        # From bytes: np.load of a damaged file would leave the file handle open when it fails.
        with np.load(io.BytesIO(path.read_bytes())) as z:
            meta = json.loads(str(z["meta"]))
            groups: dict[str, dict[str, F32]] = {"param": {}, "m": {}, "v": {}}
            for key in z.files:
                prefix, _, name = key.partition("/")
                if prefix in groups:
                    groups[prefix][name] = np.asarray(z[key], np.float32)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"checkpoint {path} is damaged ({type(exc).__name__}); remove it and retrain"
        ) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint {path} has format {meta.get('format')}, this advengine reads {FORMAT}"
        )
    return Checkpoint(
        step=int(meta["step"]),
        params=groups["param"],
        adam_m=groups["m"],
        adam_v=groups["v"],
        adam_t=int(meta["adam_t"]),
        rng_state=meta["rng_state"],
        losses=[float(x) for x in meta["losses"]],
        seconds=float(meta["seconds"]),
        settings=meta["settings"],
        sessions=list(meta.get("sessions", [])),
    )


def start_run(fingerprint: dict[str, Any], path: Path, resume: bool) -> Checkpoint | None:
    """The checkpoint to continue (``resume``: its settings must equal ``fingerprint``, else one error
    naming the first that differs), or None for a new run (refused over an existing one)."""
    if not resume:
        if path.exists():
            raise ConfigError(
                f"{path.parent} already holds a training run; pass --resume to continue it, or choose "
                "another --out"
            )
        return None
    ckpt = load_checkpoint(path)
    for key in sorted(set(fingerprint) | set(ckpt.settings)):
        if fingerprint.get(key) != ckpt.settings.get(key):
            raise ConfigError(
                f"--resume: {key} is {fingerprint.get(key)!r} but the run in {path.parent} used "
                f"{ckpt.settings.get(key)!r}; rerun with the run's settings or choose another --out"
            )
    return ckpt


__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint", "start_run"]
