"""Exactly one ONNX Runtime distribution: checked when the package is imported.

``onnxruntime`` and ``onnxruntime-gpu`` install the same ``onnxruntime`` module; with both present,
whichever pip wrote last wins file by file and the CUDA provider breaks. So neither is a plain
dependency: ``advengine[cpu]`` installs one, ``advengine[gpu]`` the other, and importing advengine with
none or several fails with the command that fixes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import metadata

from advengine.errors import InstallError

#: Distributions that provide the ``onnxruntime`` module.
ORT_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino")


def _installed(names: Iterable[str]) -> list[str]:
    found = []
    for name in names:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def installed_runtimes(find: Callable[[Iterable[str]], list[str]] = _installed) -> list[str]:
    """The ONNX Runtime distributions installed in this environment."""
    return find(ORT_DISTRIBUTIONS)


def check_onnxruntime(find: Callable[[Iterable[str]], list[str]] = _installed) -> str:
    """The one installed ONNX Runtime distribution; :class:`InstallError` when there are none or several."""
    found = installed_runtimes(find)
    if not found:
        raise InstallError(
            "advengine needs ONNX Runtime: pip install 'advengine[cpu]' (or 'advengine[gpu]' for CUDA)"
        )
    if len(found) > 1:
        keep = "onnxruntime-gpu" if "onnxruntime-gpu" in found else found[0]
        drop = " ".join(n for n in found if n != keep)
        raise InstallError(
            f"several ONNX Runtimes are installed ({', '.join(found)}) and they overwrite each other: "
            f"pip uninstall -y {drop} {keep} && pip install {keep}"
        )
    return found[0]


__all__ = ["ORT_DISTRIBUTIONS", "check_onnxruntime", "installed_runtimes"]
