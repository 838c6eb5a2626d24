"""ONNX Runtime's optimised models, cached on disk so a second run does not optimise again.

Building a session optimises the graph first (constant folding, fusions, the NCHWc layout on CPU),
which for a compiled gradient graph is most of the session build. The first build of a model writes
ORT's optimised graph (``SessionOptions.optimized_model_filepath``) into ``<cache>/ort/``; later builds
load that file with graph optimisation off. The key is the model's content hash, the providers with
their options, the ORT version and the CPU (the NCHWc layout ORT writes depends on the CPU's vector
width, so an optimised file is only valid on the kind of machine that wrote it).

The file is written under a temporary name and renamed into place, so a crash never leaves a torn
file under the key; a cached file that ORT cannot load anyway is dropped and rebuilt, with one warning.

Off unless ``ADVENGINE_ORT_CACHE=1``: on the 2-core CPU the optimisation of a Lite0 source graph took
0.12-0.29 s and loading the optimised file as long (docs/benchmarks.md, issue 25), while every graph
gained a second copy on disk (1.4 GiB in an hour of test runs).
"""

from __future__ import annotations

import hashlib
import os
import platform
import uuid
import warnings
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from advengine.models.locations import cache_dir

#: Makes a session of a model (a path or the serialized bytes) with these options; raises on failure.
SessionFactory = Callable[[str | bytes, Any], Any]

_HITS = 0


def optimized_cache_dir(cache_root: Path | None = None) -> Path:
    return (cache_root or cache_dir()) / "ort"


@cache
def _machine() -> str:
    """The CPU the optimised layout was chosen for: architecture and, on Linux, its feature flags."""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return f"{platform.machine()} {hashlib.sha256(flags.encode()).hexdigest()[:16]}"


def optimized_key(model: bytes, providers: Sequence[Any]) -> str:
    import onnxruntime as ort  # deferred: importing onnxruntime costs ~0.3 s

    h = hashlib.sha256()
    h.update(f"advengine.ort/1\n{ort.__version__}\n{_machine()}\n{list(providers)!r}\n".encode())
    h.update(hashlib.sha256(model).digest())
    return h.hexdigest()


def optimized_hits() -> int:
    """Sessions this process loaded from an optimised file in the cache (what tests check)."""
    return _HITS


def optimized_session(
    model: str | Path | bytes,
    options: Callable[[], Any],
    providers: Sequence[Any],
    make: SessionFactory,
    cache_root: Path | None = None,
) -> Any:
    """A session of ``model`` made by ``make``: from ORT's optimised file in the cache when there is
    one (optimisation off), else from ``model`` with ``options()``, writing the optimised file."""
    global _HITS
    import onnxruntime as ort  # deferred: importing onnxruntime costs ~0.3 s

    blob = model if isinstance(model, bytes) else Path(model).read_bytes()
    path = optimized_cache_dir(cache_root) / f"{optimized_key(blob, providers)}.onnx"
    if path.is_file():
        opts = options()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            session = make(str(path), opts)
        except Exception as exc:  # ORT's own types: a torn or foreign file
            warnings.warn(
                f"cached optimised model {path} cannot be loaded ({' '.join(str(exc).split())[:200]}); "
                "rebuilding it",
                RuntimeWarning,
                stacklevel=2,
            )
            path.unlink(missing_ok=True)
        else:
            _HITS += 1
            return session
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    opts = options()
    opts.optimized_model_filepath = str(tmp)
    # ORT warns on every such write that an NCHWc layout only suits the machine that wrote it; the
    # key names the machine, so the warning is noise on stderr (errors are still shown).
    opts.log_severity_level = max(opts.log_severity_level, 3)
    try:
        session = make(model if isinstance(model, bytes) else str(model), opts)
        if tmp.is_file():
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return session


__all__ = ["optimized_cache_dir", "optimized_hits", "optimized_key", "optimized_session"]
