"""The hand-kept stub python/advengine/_core.pyi lists exactly what the compiled extension exports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import advengine
from advengine import _core
from advengine.errors import ImageDecodeError


def stub_names() -> set[str]:
    tree = ast.parse((Path(advengine.__file__).parent / "_core.pyi").read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    names |= {
        n.target.id for n in tree.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    return names


def test_stub_matches_extension() -> None:
    exported = {n for n in dir(_core) if not n.startswith("_")} | {"__version__"}
    assert stub_names() == exported


def test_errors_from_rust_use_the_tree() -> None:
    with pytest.raises(ImageDecodeError, match="image 0"):
        _core.decode_png_batch([b"not a png"])
