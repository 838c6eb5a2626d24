"""The catalogue of models: bundled manifests, registered ones, and ``$ADVENGINE_MODEL_PATH`` dirs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from advengine.errors import ModelError, ModelNotFoundError, ParameterError
from advengine.files import atomic_write
from advengine.models.checkpoint import sha256_file
from advengine.models.locations import builtin_manifest_dir, model_path_dirs, user_manifest_dir
from advengine.models.manifest import Manifest, read_manifest

#: The end of every unknown-model message: how to add one.
IMPORT_HINT = "(add your own ONNX classifier with `advengine models import FILE --name NAME`)"


#: Models made in this process by ``Model.from_onnx`` (origin "memory"): known by name to everything that
#: looks models up (attacks, defenses, classifiers) until the process ends; never written to the config.
_MEMORY: dict[str, Manifest] = {}


def add_memory_model(m: Manifest) -> None:
    """Make ``m`` known by its name in this process only (``Model.register`` persists it)."""
    _MEMORY[m.name] = m


def clear_memory_models() -> None:
    """Forget every model ``Model.from_onnx`` made in this process (their cached files stay)."""
    _MEMORY.clear()


def _sources() -> list[tuple[str, Path]]:
    return [("builtin", builtin_manifest_dir()), ("registered", user_manifest_dir())] + [
        ("model-path", d) for d in model_path_dirs()
    ]


def list_manifests() -> list[Manifest]:
    """Every known manifest, sorted by name. A name defined twice is an error naming both files."""
    found: dict[str, Manifest] = {}
    for origin, directory in _sources():
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.json")):
            m = read_manifest(path, origin)
            if m.name in found:
                raise ModelError(
                    f"model {m.name!r} is defined twice: {found[m.name].path} and {path}; "
                    "remove or rename one"
                )
            found[m.name] = m
    for m in _MEMORY.values():
        found.setdefault(m.name, m)
    return [found[k] for k in sorted(found)]


def list_models(*, denoised: bool = True) -> list[str]:
    """Names of every known model; ``denoised=False`` leaves out the models that are a denoiser in
    front of another model (the default rosters take the plain classifiers only)."""
    return [m.name for m in list_manifests() if denoised or m.classifier is None]


def get_manifest(name: str) -> Manifest:
    """The manifest of ``name``; :class:`~advengine.errors.ModelNotFoundError` lists the known names."""
    manifests = list_manifests()
    for m in manifests:
        if m.name == name:
            return m
    known = ", ".join(m.name for m in manifests) or "none"
    raise ModelNotFoundError(f"unknown model {name!r}; known models: {known} {IMPORT_HINT}")


def checked_onnx_file(m: Manifest, where: str, missing: str, changed: str) -> Path:
    """The ONNX file of an ONNX-file manifest, after checking it exists and has the manifest's sha256;
    else one ModelError starting with ``where`` and ending with the hint ``missing`` or ``changed``."""
    assert m.onnx_path is not None
    if not m.onnx_path.is_file():
        raise ModelError(f"{where}: ONNX file {m.onnx_path} {missing}")
    actual = sha256_file(m.onnx_path)
    if actual != m.sha256:
        raise ModelError(
            f"{where}: {m.onnx_path} has sha256 {actual} but the manifest says {m.sha256}; {changed}"
        )
    return m.onnx_path


def register_model(manifest_path: str | Path, *, force: bool = False) -> Manifest:
    """Check a user manifest and its ONNX file, then copy the manifest into the user config dir.

    The copy points at the ONNX file by absolute path, so it keeps working from any directory.
    """
    m = read_manifest(manifest_path, "file")
    if m.source_kind != "onnx-file" or m.onnx_path is None:
        raise ModelError(f"{m.path}: only 'onnx-file' manifests can be registered (source.kind)")
    checked_onnx_file(m, str(m.path), "does not exist (fix 'source.path')", "fix 'source.sha256'")
    # Deferred: importing onnx costs about 1 s (its ml_dtypes extension).
    from advengine.models.onnx_contract import check_onnx_contract

    check_onnx_contract(m.onnx_path, m.input_size)
    target = user_manifest_dir() / f"{m.name}.json"
    others = [x for x in list_manifests() if x.name == m.name and x.path.resolve() != target.resolve()]
    if others:
        raise ModelError(f"model {m.name!r} already exists ({others[0].path}); choose another 'name'")
    if target.exists() and not force:
        raise ModelError(f"model {m.name!r} is already registered ({target}); pass --force to replace it")
    data = dict(m.raw)
    data["source"] = {**data["source"], "path": str(m.onnx_path)}
    atomic_write(target, json.dumps(data, indent=2) + "\n")
    return read_manifest(target, "registered")


def unregister_model(name: str) -> Path:
    """Remove a registered manifest (never a bundled one); returns the removed file."""
    target = user_manifest_dir() / f"{name}.json"
    if not target.is_file():
        raise ModelNotFoundError(f"no registered model named {name!r} in {user_manifest_dir()}")
    target.unlink()
    return target


def check_models(models: Sequence[str], owner: str, what: str = "model") -> tuple[str, ...]:
    """``models`` if every one is known, else one ParameterError naming the first unknown one and
    listing the known ones (``what``: "model", "source model")."""
    known = list_models()
    unknown = [m for m in models if m not in known]
    if unknown:
        prefix = f"{owner}: " if owner else ""
        raise ParameterError(
            f"{prefix}unknown {what} {unknown[0]!r}; known models: {', '.join(sorted(known))} {IMPORT_HINT}"
        )
    return tuple(models)


__all__ = [
    "IMPORT_HINT",
    "add_memory_model",
    "check_models",
    "checked_onnx_file",
    "clear_memory_models",
    "get_manifest",
    "list_manifests",
    "list_models",
    "register_model",
    "unregister_model",
]
