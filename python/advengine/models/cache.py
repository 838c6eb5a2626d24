"""The build cache: ``<cache>/models/<name>-<key>.onnx`` where ``key`` hashes everything the build
depends on (weights sha256, builder version, the whole manifest, and for a denoised model the key of
its classifier's build). A sidecar ``.sha256`` records the digest of the written ONNX so a damaged or
edited file is detected and rebuilt, not trusted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from advengine.files import atomic_write
from advengine.models import build
from advengine.models.build import Step, _no_step, build_onnx
from advengine.models.checkpoint import sha256_file
from advengine.models.locations import cache_dir
from advengine.models.manifest import Manifest
from advengine.models.zoo import checked_onnx_file, get_manifest

KEY_LENGTH = 16


def build_key(m: Manifest) -> str:
    """Content hash of a build's inputs."""
    inputs = {"builder": build.BUILDER_VERSION, "weights": m.sha256, "manifest": m.raw}
    if m.classifier is not None:
        inputs["classifier"] = build_key(get_manifest(m.classifier))
    payload = json.dumps(
        inputs,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:KEY_LENGTH]


def cached_path(m: Manifest, cache_root: Path | None = None) -> Path:
    """Where the build of ``m`` lives (whether or not it exists yet), under ``cache_root`` (default:
    the user cache dir)."""
    return (cache_root or cache_dir()) / "models" / f"{m.name}-{build_key(m)}.onnx"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_fresh(path: Path) -> bool:
    """The cached file exists and still has the digest recorded when it was written."""
    side = _sidecar(path)
    if not path.is_file() or not side.is_file():
        return False
    return side.read_text().strip() == sha256_file(path)


def _remove_stale(m: Manifest, keep: Path) -> None:
    for old in keep.parent.glob(f"{m.name}-*.onnx*"):
        stem = old.name.removesuffix(".sha256")
        # Only our own files: <name>-<16 hex>.onnx; another model's name may share the prefix.
        key = stem.removeprefix(f"{m.name}-").removesuffix(".onnx")
        if len(key) == KEY_LENGTH and old.name not in (keep.name, _sidecar(keep).name):
            old.unlink(missing_ok=True)


def ensure_onnx(
    name: str, *, force: bool = False, step: Step = _no_step, cache_root: Path | None = None
) -> Path:
    """The ONNX file of model ``name``: built into the cache if missing, stale or damaged (or ``force``).

    For a registered ONNX-file model, the file's sha256 is checked against its manifest and its path
    returned as is. A denoised model's denoiser file is checked the same way on every call, then
    composed with its classifier's build.
    """
    m = get_manifest(name)
    if not m.builds_onnx:
        return checked_onnx_file(
            m,
            f"model {name}",
            f"is missing (manifest {m.path})",
            f"re-register the model after changing its file (manifest {m.path})",
        )
    denoiser = None
    if m.classifier is not None:
        denoiser = checked_onnx_file(
            m,
            f"model {name}",
            f"(its denoiser) is missing (manifest {m.path}); reinstall advengine",
            "the denoiser weights are not the ones the manifest names: reinstall advengine, or write "
            "the new file's sha256 into the manifest (docs/hgd.md)",
        )
    path = cached_path(m, cache_root)
    if not force and is_fresh(path):
        return path
    if m.classifier is not None and denoiser is not None:
        base = ensure_onnx(m.classifier, force=force, step=step, cache_root=cache_root)
        step(f"composing the denoiser with {m.classifier}")
        import onnx  # deferred: importing onnx costs about 1 s (its ml_dtypes extension)

        from advengine.models.denoised import compose_denoised

        model = compose_denoised(
            onnx.load(str(denoiser)), onnx.load(str(base)), input_size=m.input_size, name=m.name
        )
    else:
        model = build_onnx(m, step)
    data = model.SerializeToString()
    step(f"writing {path}")
    atomic_write(path, data)
    atomic_write(_sidecar(path), hashlib.sha256(data).hexdigest() + "\n")
    _remove_stale(m, path)
    return path


__all__ = ["build_key", "cached_path", "ensure_onnx", "is_fresh"]
