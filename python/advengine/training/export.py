"""The trained denoiser as files the zoo reads: ``<name>.onnx`` (the DUNET with its weights) and
``<name>.json``, a ``denoised`` manifest (the denoiser's sha256 in front of the guide), so the result
is a model like any other (``ADVENGINE_MODEL_PATH=<dir>``) and the shipped ``hgd`` defense is two
copied files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.files import atomic_write
from advengine.models.dunet import DunetConfig, build_dunet
from advengine.models.manifest import LABEL_CONVENTION, SCHEMA_VERSION, parse_manifest

F32 = npt.NDArray[np.float32]


def denoised_manifest(
    name: str, target: str, denoiser: str, sha256: str, size: int, description: str
) -> dict[str, Any]:
    """A ``denoised`` manifest: ``denoiser`` (relative to the manifest) in front of zoo model ``target``."""
    return {
        "schema": SCHEMA_VERSION,
        "name": name,
        "description": description,
        "source": {"kind": "denoised", "classifier": target, "denoiser": denoiser, "sha256": sha256},
        "input_size": size,
        "labels": {"convention": LABEL_CONVENTION, "classes": 1000},
        "license": "Apache-2.0 (weights trained by advengine; the classifier keeps its own licence)",
    }


def export_denoiser(
    config: DunetConfig, params: dict[str, F32], out: Path, *, name: str, target: str
) -> tuple[Path, Path]:
    """Write ``out/<name>.onnx`` and its manifest ``out/<name>.json``; returns both paths."""
    data = build_dunet(config, params).SerializeToString()
    onnx_path = out / f"{name}.onnx"
    atomic_write(onnx_path, data)
    description = (
        f"HGD: a DUNET denoiser (channels {list(config.channels)}, LGD-trained by `advengine train hgd`) "
        f"in front of {target}"
    )
    manifest = denoised_manifest(
        name, target, onnx_path.name, hashlib.sha256(data).hexdigest(), config.size, description
    )
    path = out / f"{name}.json"
    parse_manifest(manifest, path, "file")  # what is written must read back
    atomic_write(path, json.dumps(manifest, indent=2) + "\n")
    return onnx_path, path


__all__ = ["denoised_manifest", "export_denoiser"]
