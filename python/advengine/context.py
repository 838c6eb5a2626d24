"""The run's execution settings, passed explicitly from the CLI or API down to where ONNX Runtime
sessions are made (no settings travel through the environment)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from advengine import env
from advengine.errors import ParameterError

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclasses.dataclass(frozen=True)
class RunContext:
    """Where and how a run computes. Picklable, so worker processes get the same one."""

    #: ONNX Runtime providers in order of preference; None: CUDA when available, then CPU.
    providers: tuple[str, ...] | None = None
    #: ONNX Runtime intra-op threads per session; None: ``ADVENGINE_NUM_THREADS`` (0 = ORT's default).
    threads: int | None = None
    #: Root of the built-model and compiled-graph caches; None: :func:`advengine.env.cache_dir`.
    cache_dir: Path | None = None
    #: The CUDA device sessions run on (ignored on CPU).
    device: int = 0

    @classmethod
    def from_env(cls, **overrides: Any) -> RunContext:
        """The context of a command that was given no settings: the environment's, then ``overrides``
        (those that are not None)."""
        base = cls(providers=env.providers(), threads=env.num_threads() or None, cache_dir=env.cache_dir())
        return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def session_providers(self, available: list[str]) -> list[str | tuple[str, dict[str, Any]]]:
        """The providers argument of ``ort.InferenceSession``: the chosen ones (CUDA on ``device``)."""
        chosen = self.providers or tuple(p for p in (CUDA, CPU) if p in available)
        return [(p, {"device_id": self.device}) if p == CUDA else p for p in chosen]


def parse_device(text: str | None) -> int | None:
    """``--device cuda:N`` (or ``N``) as the CUDA ordinal; None when not given."""
    if text is None:
        return None
    raw = text.removeprefix("cuda:")
    if not raw.isdigit():
        raise ParameterError(f"--device {text!r}: give cuda:N, e.g. cuda:0")
    return int(raw)


__all__ = ["CPU", "CUDA", "RunContext", "parse_device"]
