"""The fixed batch of a model file, remembered in the cache so a cached run imports no onnx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from advengine.models import batch_dim
from advengine.models.batch_dim import fixed_batch_of

from .conftest import tiny_classifier


def _fix_batch(path: Path, batch: int) -> None:
    m = onnx.load(str(path))
    for v in (m.graph.input[0], m.graph.output[0]):
        dim = v.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = batch
    onnx.save(m, str(path))


def test_symbolic_then_fixed_after_the_file_changes(tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "m.onnx")
    cache = tmp_path / "cache"
    assert fixed_batch_of(model, cache) is None
    assert len(list((cache / "batch").glob("*.json"))) == 1
    _fix_batch(model, 4)
    os.utime(model, ns=(1, 1))  # a different mtime even on a coarse clock
    assert fixed_batch_of(model, cache) == 4


def test_a_noted_file_is_answered_without_importing_onnx(tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "m.onnx")
    _fix_batch(model, 2)
    cache = tmp_path / "cache"
    assert fixed_batch_of(model, cache) == 2
    code = (
        "import sys; from pathlib import Path; from advengine.models.batch_dim import fixed_batch_of; "
        f"print(fixed_batch_of(Path({str(model)!r}), Path({str(cache)!r})), 'onnx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "False"]


def test_a_damaged_note_is_read_again(tmp_path: Path) -> None:
    model = tiny_classifier(tmp_path / "m.onnx")
    cache = tmp_path / "cache"
    fixed_batch_of(model, cache)
    (note,) = (cache / "batch").glob("*.json")
    note.write_text("{not json")
    assert fixed_batch_of(model, cache) is None


def test_a_cache_that_cannot_be_written_still_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path, data: bytes | str) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(batch_dim, "atomic_write", refuse)  # chmod does not stop root
    model = tiny_classifier(tmp_path / "m.onnx")
    assert fixed_batch_of(model, tmp_path / "cache") is None
    assert not (tmp_path / "cache").exists()
