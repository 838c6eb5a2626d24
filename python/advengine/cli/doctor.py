"""``advengine doctor``: what this machine can run, each missing piece with the command that fixes it."""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
from collections.abc import Callable
from importlib import metadata
from typing import Annotated

import onnxruntime as ort
import typer

from advengine import env
from advengine.cli._app import app
from advengine.context import CUDA
from advengine.errors import InstallError
from advengine.runtime import check_onnxruntime
from advengine.submissions.sandbox import bwrap_status

#: Shared libraries ONNX Runtime's CUDA provider loads (CUDA 12 and cuDNN 9, its current builds).
CUDA_LIBS = ("libcudart.so.12", "libcublas.so.12")
CUDNN_LIBS = ("libcudnn.so.9",)


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    #: What to do when not ok ("" when nothing is needed).
    fix: str = ""
    #: A failed required check makes the command exit non-zero; optional ones only matter for GPUs,
    #: submissions or clusters.
    required: bool = False


def _loads(libs: tuple[str, ...]) -> str | None:
    """None when every library loads, else the first that does not."""
    for lib in libs:
        try:
            ctypes.CDLL(lib)
        except OSError:
            return lib
    return None


def _runtime() -> Check:
    try:
        dist = check_onnxruntime()
    except InstallError as exc:
        return Check("onnxruntime", False, str(exc), "see the message", required=True)
    providers = ort.get_available_providers()
    return Check("onnxruntime", True, f"{dist} {ort.__version__}; providers: {', '.join(providers)}")


def _library(name: str, libs: tuple[str, ...], fix: str) -> Callable[[], Check]:
    def check() -> Check:
        missing = _loads(libs)
        if missing is None:
            return Check(name, True, f"{', '.join(libs)} load")
        return Check(name, False, f"{missing} does not load", fix)

    return check


def _cuda_provider() -> Check:
    if CUDA in ort.get_available_providers():
        return Check("CUDA provider", True, "CUDAExecutionProvider available")
    return Check(
        "CUDA provider",
        False,
        "CUDAExecutionProvider not in this ONNX Runtime (CPU only)",
        "for GPUs: pip uninstall -y onnxruntime && pip install 'advengine[gpu]'",
    )


def _bwrap() -> Check:
    why = bwrap_status()
    if why is None:
        return Check("bubblewrap", True, "bwrap can sandbox submissions")
    return Check("bubblewrap", False, why, "apt-get install -y bubblewrap util-linux (for --submission)")


def _ray() -> Check:
    try:
        version = metadata.version("ray")
    except metadata.PackageNotFoundError:
        return Check("ray", False, "not installed", "pip install 'advengine[ray]' (for --executor ray)")
    return Check("ray", True, f"ray {version}")


def _threads() -> Check:
    n = env.num_threads()
    detail = f"{env.NUM_THREADS}={n or 'unset'} (0/unset: ONNX Runtime's default); {os.cpu_count()} CPUs"
    return Check("threads", True, detail)


def _cache() -> Check:
    root = env.cache_dir()
    probe = root if root.exists() else root.parent
    if os.access(probe, os.W_OK):
        return Check("cache dir", True, str(root))
    return Check("cache dir", False, f"{root} is not writable", f"set {env.CACHE} to a writable directory")


CHECKS: tuple[Callable[[], Check], ...] = (
    _runtime,
    _cuda_provider,
    _library(
        "CUDA",
        CUDA_LIBS,
        "for GPUs: install the CUDA 12 runtime (pip install nvidia-cuda-runtime-cu12 "
        "nvidia-cublas-cu12) or put it on LD_LIBRARY_PATH",
    ),
    _library(
        "cuDNN", CUDNN_LIBS, "for GPUs: pip install nvidia-cudnn-cu12 or put cuDNN 9 on LD_LIBRARY_PATH"
    ),
    _bwrap,
    _ray,
    _threads,
    _cache,
)


def run_checks() -> list[Check]:
    return [check() for check in CHECKS]


@app.command("doctor")
def doctor_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check this machine: ONNX Runtime and its providers, CUDA and cuDNN, bubblewrap, Ray, threads and
    the cache dir; each missing piece comes with its fix. Exits 1 when a required piece is missing."""
    checks = run_checks()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(c) for c in checks], indent=2))
    else:
        for c in checks:
            typer.echo(f"{'ok ' if c.ok else 'NO '} {c.name:<14} {c.detail}")
            if not c.ok and c.fix:
                typer.echo(f"     {'':<14} fix: {c.fix}")
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(1)
