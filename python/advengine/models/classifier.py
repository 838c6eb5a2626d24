"""An ONNX Runtime session wrapped as a classifier with the project's array contract.

Inputs are float32 NCHW in [0, 1] at the model's native size (:meth:`OnnxClassifier.prepare` resizes
anything else bilinearly); outputs are ``[N, 1000]`` logits or TF-Slim labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from advengine.context import RunContext
from advengine.data.labels import labels_from_logits
from advengine.env import ort_cache_enabled
from advengine.errors import ModelError, ParameterError, ShapeError
from advengine.models.cache import ensure_onnx
from advengine.models.dropout import dropout_file
from advengine.models.manifest import Manifest
from advengine.models.optimized import optimized_session
from advengine.models.resize import resize_bilinear
from advengine.models.sessions import shared_session
from advengine.models.zoo import get_manifest

DEFAULT_BATCH = 100
DEFAULT_PROVIDERS = ("CPUExecutionProvider",)
#: A providers entry of ``ort.InferenceSession``: a name, or a name and its options.
Provider = str | tuple[str, dict[str, Any]]


def check_providers(names: Sequence[str]) -> None:
    """Raise one ModelError unless every ONNX Runtime provider in ``names`` is available here."""
    import onnxruntime as ort  # deferred: importing onnxruntime costs ~0.3 s

    available = ort.get_available_providers()
    missing = [n for n in names if n not in available]
    if missing:
        raise ModelError(
            f"ONNX Runtime provider {missing[0]} is not available (available: {', '.join(available)}); "
            "for CUDAExecutionProvider install advengine[gpu] in place of onnxruntime"
        )


def _session(
    path: Path, providers: Sequence[Provider], threads: int | None, cache_root: Path | None = None
) -> Any:
    import onnxruntime as ort  # deferred: importing onnxruntime costs ~0.3 s

    names = [p if isinstance(p, str) else p[0] for p in providers]
    check_providers(names)
    if threads is not None and threads < 1:
        raise ParameterError(f"threads must be at least 1, got {threads}")

    def options() -> Any:
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = threads
        return opts

    def build(what: str | bytes, opts: Any) -> Any:
        try:
            return ort.InferenceSession(what, opts, providers=list(providers))
        except Exception as exc:  # onnxruntime raises its own non-exported exception types
            raise ModelError(f"ONNX Runtime cannot load {path}: {' '.join(str(exc).split())[:300]}") from None

    if "CUDAExecutionProvider" in names or not ort_cache_enabled():
        # ORT's optimised file is cached only when asked, for CPU sessions (models/optimized.py).
        return build(str(path), options())
    return optimized_session(path, options, list(providers), build, cache_root)


def _padded(a: npt.NDArray[Any], rows: int) -> npt.NDArray[Any]:
    """``a`` with zero rows appended up to ``rows`` (a fixed-batch model's last call); as is for 0."""
    if rows <= len(a):
        return a
    return np.concatenate([a, np.zeros((rows - len(a), *a.shape[1:]), a.dtype)])


class OnnxClassifier:
    """A 1000-class ImageNet classifier in ONNX. ``threads`` bounds ONNX Runtime's intra-op threads."""

    def __init__(
        self,
        path: str | Path,
        *,
        input_size: int,
        name: str | None = None,
        providers: Sequence[Provider] | None = None,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH,
        cache_root: Path | None = None,
    ) -> None:
        if batch_size < 1:
            raise ParameterError(f"batch_size must be at least 1, got {batch_size}")
        self.path = Path(path)
        self.name = name or self.path.stem
        self.input_size = input_size
        self.batch_size = batch_size
        chosen = tuple(providers or DEFAULT_PROVIDERS)
        self._session = shared_session(
            self.path, chosen, threads, lambda: _session(self.path, chosen, threads, cache_root)
        )
        self.providers: list[str] = list(self._session.get_providers())
        #: Graph inputs besides the image (e.g. dropout noise), name → shape; ``logits`` takes them.
        self.extra_inputs: dict[str, list[int | str]] = {
            i.name: list(i.shape) for i in self._session.get_inputs() if i.name != "input"
        }
        first = next((i.shape[0] for i in self._session.get_inputs() if i.name == "input"), None)
        #: The batch an imported model is fixed at (docs/models.md), None when symbolic: it runs calls
        #: of exactly that many images, the last one padded.
        self.fixed_batch: int | None = first if isinstance(first, int) and first > 0 else None

    def __repr__(self) -> str:
        return f"OnnxClassifier({self.name!r}, input_size={self.input_size}, providers={self.providers})"

    def _check(self, x: Any) -> npt.NDArray[np.float32]:
        arr = np.asarray(x)
        s = self.input_size
        if arr.dtype != np.float32 or arr.ndim != 4 or arr.shape[1:] != (3, s, s):
            raise ShapeError(
                f"{self.name} takes float32 [n, 3, {s}, {s}] in [0, 1], got {arr.dtype} {list(arr.shape)} "
                "(convert uint8 images with advengine.data.to_model_input and resize with clf.prepare)"
            )
        return np.ascontiguousarray(arr)

    def prepare(self, x: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Float32 NCHW images of any size -> the native size, bilinear (PyTorch ``align_corners=False``)."""
        return resize_bilinear(x, self.input_size)

    def logits(
        self,
        x: npt.ArrayLike,
        *,
        batch_size: int | None = None,
        extra: Mapping[str, npt.NDArray[np.float32]] | None = None,
    ) -> npt.NDArray[np.float32]:
        """``[n, 1000]`` logits of float32 ``[n, 3, S, S]`` inputs in [0, 1], run in batches; ``extra``
        feeds the :attr:`extra_inputs`, one row per image (chunked with the images)."""
        arr = self._check(x)
        feeds = dict(extra or {})
        if set(feeds) != set(self.extra_inputs):
            raise ShapeError(
                f"{self.name} takes the extra inputs {sorted(self.extra_inputs)}, got {sorted(feeds)}"
            )
        step = batch_size or self.batch_size
        if step < 1:
            raise ParameterError(f"batch_size must be at least 1, got {step}")
        if len(arr) == 0:
            return np.zeros((0, 1000), dtype=np.float32)
        if self.fixed_batch is not None:
            step = self.fixed_batch
        try:
            parts = [
                self._session.run(
                    ["logits"],
                    {
                        "input": _padded(arr[i : i + step], step if self.fixed_batch else 0),
                        **{
                            k: _padded(v[i : i + step], step if self.fixed_batch else 0)
                            for k, v in feeds.items()
                        },
                    },
                )[0][: len(arr[i : i + step])]
                for i in range(0, len(arr), step)
            ]
        except Exception as exc:  # ORT's own exception types (Fail, RuntimeException, ...)
            # e.g. a registered model whose buffers cannot be allocated: one line, not a traceback.
            raise ModelError(
                f"ONNX Runtime failed running model {self.name}: {' '.join(str(exc).split())[:300]}"
            ) from None
        return np.concatenate(parts).astype(np.float32, copy=False)

    def predict(self, x: npt.ArrayLike, *, batch_size: int | None = None) -> npt.NDArray[np.int64]:
        """TF-Slim labels (1..1000) of float32 ``[n, 3, S, S]`` inputs in [0, 1]."""
        return labels_from_logits(self.logits(x, batch_size=batch_size))


def load_classifier(
    name: str,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    context: RunContext | None = None,
    dropout: float = 0.0,
) -> OnnxClassifier:
    """The classifier of a known model, building its ONNX file first if needed. ``context`` gives the
    providers, threads and cache dir that ``providers``/``threads`` leave open. ``dropout`` > 0 keeps
    dropout on at that rate (:mod:`advengine.models.dropout`; its noise is the extra input
    ``dropout_u``)."""
    manifest: Manifest = get_manifest(name)
    session_providers: Sequence[Provider] | None = providers
    if context is not None:
        if providers is None and context.providers is not None:
            session_providers = context.session_providers([])
        threads = threads if threads is not None else context.threads
    cache_root = context.cache_dir if context is not None else None
    path = ensure_onnx(name, cache_root=cache_root)
    if dropout:
        path = dropout_file(path, dropout, "input", cache_root)
    return OnnxClassifier(
        path,
        input_size=manifest.input_size,
        name=manifest.name,
        providers=session_providers,
        threads=threads,
        batch_size=batch_size,
        cache_root=cache_root,
    )


__all__ = ["DEFAULT_BATCH", "OnnxClassifier", "Provider", "check_providers", "load_classifier"]
