"""Compiled graphs cached by content hash in the user cache dir ($ADVENGINE_CACHE or
~/.cache/advengine), written atomically (advengine.files) so a crash never leaves a torn file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advengine.errors import GraphError
from advengine.files import atomic_write
from advengine.graph.version import COMPILER_VERSION
from advengine.models.locations import cache_dir

if TYPE_CHECKING:
    import onnx


def graph_cache_dir(cache_root: Path | None = None) -> Path:
    # The run's cache root, else the project's one ($ADVENGINE_CACHE, else XDG, else ~/.cache/advengine).
    return (cache_root or cache_dir()) / "graphs"


def content_key(model_bytes: list[bytes], options: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(f"advengine.graph/{COMPILER_VERSION}\n".encode())
    h.update(json.dumps(options, sort_keys=True).encode())
    for blob in model_bytes:
        h.update(hashlib.sha256(blob).digest())
    return h.hexdigest()


def cached(
    model_files: list[Path],
    options: dict[str, Any],
    build: Callable[[], onnx.ModelProto],
    cache_root: Path | None = None,
) -> tuple[Path, bool]:
    """The cached compiled graph for these model files and options, building it on a miss.
    Returns (path, hit)."""
    blobs = []
    for p in model_files:
        try:
            blobs.append(p.read_bytes())
        except OSError as exc:
            raise GraphError(f"cannot read ONNX model {p} ({exc.strerror}); check the path") from None
    path = graph_cache_dir(cache_root) / f"{content_key(blobs, options)}.onnx"
    if path.is_file():
        return path, True
    atomic_write(path, build().SerializeToString())
    return path, False


__all__ = ["cached", "content_key", "graph_cache_dir"]
