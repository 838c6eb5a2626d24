"""The batch an ONNX model file is fixed at, remembered in the cache.

Reading it needs the ``onnx`` package, whose import alone costs 0.6–1 s; a run whose compiled graphs
are all cached otherwise never imports it (docs/benchmarks.md, "Start-up"). The note
``<cache>/batch/<hash of the file's path>.json`` is keyed by the file's size and modification time, so
an edited or replaced file is read again; a note that cannot be written (a read-only cache) only costs
the re-read. Kept in the cache rather than beside the file, because a registered model's file is the
user's and stays untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from advengine.env import cache_dir
from advengine.files import atomic_write


def _note(path: Path, cache_root: Path | None) -> Path:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return (cache_root or cache_dir()) / "batch" / f"{digest}.json"


def fixed_batch_of(path: Path, cache_root: Path | None = None) -> int | None:
    """The batch ``path``'s input is fixed at, None when symbolic (models/onnx_contract.fixed_batch),
    from the note in the cache (``cache_root``, default the user cache dir) when it matches the file."""
    note = _note(path, cache_root)
    st = path.stat()
    key = [st.st_size, st.st_mtime_ns]
    try:
        saved = json.loads(note.read_text())
        if saved["key"] == key and (saved["batch"] is None or isinstance(saved["batch"], int)):
            return saved["batch"]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no note yet, or a damaged one: read the model
    from advengine.models.onnx_contract import fixed_batch

    batch = fixed_batch(path)
    with contextlib.suppress(OSError):  # a read-only cache: correct, only slower next time
        atomic_write(note, json.dumps({"key": key, "batch": batch}))
    return batch


__all__ = ["fixed_batch_of"]
