"""Running compiled gradient graphs.

:class:`GradientModel` wraps a plain gradient graph (``.grad``). :class:`StepRunner` wraps a graph with
a fused step and iterates it with IO binding: x and the momentum live in two pairs of OrtValues on the
session's device and two bindings ping-pong between them (A→B, B→A), so nothing is copied to the host
between steps (on CUDA; on CPU the same code path runs with CPU OrtValues). Inputs of any batch size
are processed in chunks of the graph's fixed batch, the last chunk padded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

from advengine.context import CPU, CUDA, RunContext
from advengine.env import num_threads, ort_cache_enabled
from advengine.errors import GraphError, ParameterError, ShapeError
from advengine.models.optimized import optimized_session
from advengine.models.sessions import counted, shared_session

if TYPE_CHECKING:
    import onnx  # only for types: importing onnx costs about 1 s (its ml_dtypes extension)

Array = np.ndarray[Any, Any]
#: The label that asks the graph for the model's own prediction (argmax of its logits) at the input.
OWN_PREDICTION = -1


#: An ONNX Runtime execution provider: its name, or (name, provider options).
Provider = str | tuple[str, dict[str, Any]]


def provider_names(providers: Sequence[Provider]) -> list[str]:
    return [p if isinstance(p, str) else p[0] for p in providers]


def make_session(
    model: onnx.ModelProto | str | Path,
    threads: int | None = None,
    providers: Sequence[Provider] | None = None,
    *,
    context: RunContext | None = None,
) -> ort.InferenceSession:
    """An ONNX Runtime session; ``threads``/``providers`` when given, else the run's ``context``, else
    ADVENGINE_NUM_THREADS (0 = ORT's default) and CUDA when available, then CPU."""
    ctx = context or RunContext()
    threads = threads if threads is not None else ctx.threads
    n = num_threads() if threads is None else threads
    if n < 0:
        raise ParameterError(f"threads must be ≥ 0, got {n}")
    chosen = (
        list(providers) if providers is not None else ctx.session_providers(ort.get_available_providers())
    )
    on_cuda = CUDA in provider_names(chosen)

    def options() -> ort.SessionOptions:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = n
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not on_cuda:
            # On CPU the memory pattern planned after the first run is allocated beside the arena
            # chunks that first run already holds, so a lite0 gradient graph at batch 25 went from 1.4
            # to 2.6 GiB on its second call and stayed there; without the pattern it stays at 1.4 GiB,
            # at the same speed within noise (docs/benchmarks.md). CUDA sessions keep ORT's default.
            opts.enable_mem_pattern = False
            # Idle worker threads sleep instead of spinning: with other processes on the cores (the
            # competition's own workers, other jobs) spinning threads steal the time the busy ones
            # need. A Lite0 step at batch 16, 2 threads, load 6-10: 2.45 -> 1.79 s wall
            # (docs/benchmarks.md).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    source = str(model) if isinstance(model, str | Path) else model.SerializeToString()
    if isinstance(source, str) and not Path(source).is_file():
        raise GraphError(f"compiled graph {source} not found; run `advengine graph compile` first")

    def build(what: str | bytes, opts: ort.SessionOptions) -> ort.InferenceSession:
        try:
            return ort.InferenceSession(what, opts, providers=chosen)
        except Exception as exc:  # ORT's own exception types
            raise GraphError(
                f"ONNX Runtime cannot load the gradient graph ({' '.join(str(exc).split())[:300]})"
            ) from None

    def make() -> ort.InferenceSession:
        if on_cuda or isinstance(source, bytes) or not ort_cache_enabled():
            # ORT's optimised file is cached only when asked (ADVENGINE_ORT_CACHE=1: no gain was
            # measured, docs/benchmarks.md), for CPU sessions of graphs on disk: what the CUDA EP's
            # optimised graph may hold has not been checked (no GPU was lent), and an in-memory graph
            # is made afresh each time (tests, a source's forward graph), so its optimised copies
            # would pile up in the cache.
            return build(source, options())
        return optimized_session(source, options, chosen, build, ctx.cache_dir)

    # A compiled graph on disk is shared per (file, device, threads); an in-memory one is not.
    return counted(make) if isinstance(source, bytes) else shared_session(Path(source), chosen, n, make)


@dataclass
class GradResult:
    logits: Array  # [n, K]
    loss: Array  # [n]
    grad: Array  # like x


@dataclass
class StepResult:
    x: Array  # the adversarial images after the last step, like x0
    logits: Array  # logits at the last step's input
    loss: Array  # loss at the last step's input
    labels: Array  # the labels the steps used (own predictions filled in for OWN_PREDICTION)


class _Compiled:
    def __init__(
        self,
        model: onnx.ModelProto | str | Path,
        threads: int | None = None,
        providers: Sequence[Provider] | None = None,
        *,
        context: RunContext | None = None,
    ) -> None:
        self.session = make_session(model, threads, providers, context=context)
        #: The CUDA device of a CUDA session (the context's), where its OrtValues are allocated.
        self.device_id = (context or RunContext()).device
        inputs = {i.name: i for i in self.session.get_inputs()}
        self.outputs = {o.name for o in self.session.get_outputs()}
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = tuple(int(d) for d in inputs[self.input_name].shape)
        self.batch = self.input_shape[0]
        self.num_classes = int(self.session.get_outputs()[0].shape[1])
        self.uses_seed = "seed" in inputs
        self.uses_momentum = "momentum" in inputs
        self.device = "cuda" if CUDA in self.session.get_providers() else "cpu"

    def _check_x(self, x: Array) -> Array:
        arr = np.asarray(x)
        if arr.ndim != len(self.input_shape) or arr.shape[1:] != self.input_shape[1:]:
            raise ShapeError(
                f"images have shape {list(arr.shape)}; this graph takes "
                f"[n, {', '.join(map(str, self.input_shape[1:]))}]"
            )
        return np.ascontiguousarray(arr, dtype=np.float32)

    def _check_label(self, label: Array | None, n: int) -> Array:
        if label is None:
            raise ParameterError("this graph needs labels (class indices, int64 [n])")
        arr = np.asarray(label)
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
            raise ShapeError(f"labels must be integers of shape [{n}], got {arr.dtype} {list(arr.shape)}")
        if n and (arr.min() < OWN_PREDICTION or arr.max() >= self.num_classes):
            raise ParameterError(
                f"labels must be class indices in 0..{self.num_classes - 1} (TF-Slim label − 1 for "
                f"1000-class models), or {OWN_PREDICTION} for the model's own prediction"
            )
        return arr.astype(np.int64)

    def _chunks(self, n: int) -> list[tuple[int, int]]:
        return [(s, min(s + self.batch, n)) for s in range(0, n, self.batch)]

    def _pad(self, a: Array, rows: int) -> Array:
        if a.shape[0] == rows:
            return a
        out = np.zeros((rows, *a.shape[1:]), a.dtype)
        out[: a.shape[0]] = a
        return out


class GradientModel(_Compiled):
    """A compiled gradient graph (no step): ``grad(x, label)`` → logits, per-sample loss, d(Σloss)/dx.
    A label of OWN_PREDICTION is the model's own prediction at x (the argmax of the logits returned)."""

    def grad(self, x: Array, label: Array | None = None, seed: Array | None = None) -> GradResult:
        if self.uses_momentum or "x_next" in self.outputs:
            raise GraphError("this graph has a fused step (inputs x0/eps/alpha); use StepRunner")
        xs = self._check_x(x)
        n = xs.shape[0]
        feeds_extra: dict[str, Array] = {}
        if self.uses_seed:
            if seed is None or np.shape(seed) != (n, self.num_classes):
                raise ShapeError(f"this graph needs seed = dLoss/dlogits of shape [{n}, {self.num_classes}]")
            feeds_extra["seed"] = np.asarray(seed, np.float32)
        else:
            feeds_extra["label"] = self._check_label(label, n)
        logits, loss, grad = [], [], []
        for s, e in self._chunks(n):
            feed = {self.input_name: self._pad(xs[s:e], self.batch)}
            feed.update({k: self._pad(v[s:e], self.batch) for k, v in feeds_extra.items()})
            try:
                z, lv, g = self.session.run(["logits", "loss", "grad"], feed)
            except Exception as exc:  # ORT's own types, e.g. a buffer it cannot allocate
                raise GraphError(
                    f"ONNX Runtime failed running the gradient graph: {' '.join(str(exc).split())[:300]}"
                ) from None
            logits.append(z[: e - s])
            loss.append(lv[: e - s])
            grad.append(g[: e - s])
        cat = np.concatenate
        empty_z = np.zeros((0, self.num_classes), np.float32)
        return GradResult(
            cat(logits) if logits else empty_z,
            cat(loss) if loss else np.zeros(0, np.float32),
            cat(grad) if grad else np.zeros((0, *self.input_shape[1:]), np.float32),
        )


class StepRunner(_Compiled):
    """A compiled graph with a fused step, iterated through IO binding with ping-pong buffers.

    ``cuda_graph=True`` (CUDA only) runs the CUDA EP with CUDA graphs: each of the two bindings is
    captured once as its own graph (``gpu_graph_id`` 0 and 1) and replayed afterwards, which the fixed
    buffers allow; it needs every node of the graph on the CUDA EP, else ORT refuses the session."""

    def __init__(
        self,
        model: onnx.ModelProto | str | Path,
        threads: int | None = None,
        providers: Sequence[Provider] | None = None,
        *,
        context: RunContext | None = None,
        cuda_graph: bool = False,
    ) -> None:
        if cuda_graph:
            if providers is not None and CUDA not in provider_names(providers):
                raise ParameterError("cuda_graph=True needs the CUDAExecutionProvider")
            if CUDA not in ort.get_available_providers():
                raise ParameterError("cuda_graph=True needs onnxruntime-gpu and a CUDA device")
            device = str((context or RunContext()).device)
            providers = [(CUDA, {"enable_cuda_graph": "1", "device_id": device}), CPU]
        super().__init__(model, threads, providers, context=context)
        if cuda_graph and self.device != "cuda":
            raise ParameterError("cuda_graph=True needs onnxruntime-gpu and a CUDA device")
        if "x_next" not in self.outputs:
            raise GraphError("this graph has no fused step; compile it with step=... or use GradientModel")
        self._buffers: dict[str, ort.OrtValue] | None = None
        self._bindings: tuple[Any, Any] | None = None
        self._run_options: tuple[Any, Any] = (None, None)
        if cuda_graph:
            options = []
            for graph_id in ("0", "1"):
                ro = ort.RunOptions()
                ro.add_run_config_entry("gpu_graph_id", graph_id)
                options.append(ro)
            self._run_options = (options[0], options[1])

    def _value(self, shape: tuple[int, ...], dtype: type) -> ort.OrtValue:
        return ort.OrtValue.ortvalue_from_shape_and_type(list(shape), dtype, self.device, self.device_id)

    def _bind(self) -> tuple[dict[str, ort.OrtValue], tuple[Any, Any]]:
        if self._buffers is not None and self._bindings is not None:
            return self._buffers, self._bindings
        n, shape = self.batch, self.input_shape
        buf = {
            "xa": self._value(shape, np.float32),
            "xb": self._value(shape, np.float32),
            "x0": self._value(shape, np.float32),
            "label": self._value((n,), np.int64),
            "eps": self._value((n,), np.float32),
            "alpha": self._value((n,), np.float32),
            "logits": self._value((n, self.num_classes), np.float32),
            "loss": self._value((n,), np.float32),
        }
        if self.uses_momentum:
            buf["ma"] = self._value(shape, np.float32)
            buf["mb"] = self._value(shape, np.float32)
            buf["mu"] = self._value((), np.float32)
        bindings = []
        for src, dst in (("a", "b"), ("b", "a")):
            io = self.session.io_binding()
            io.bind_ortvalue_input(self.input_name, buf["x" + src])
            for name in ("x0", "label", "eps", "alpha"):
                io.bind_ortvalue_input(name, buf[name])
            io.bind_ortvalue_output("x_next", buf["x" + dst])
            io.bind_ortvalue_output("logits", buf["logits"])
            io.bind_ortvalue_output("loss", buf["loss"])
            if self.uses_momentum:
                io.bind_ortvalue_input("momentum", buf["m" + src])
                io.bind_ortvalue_input("mu", buf["mu"])
                io.bind_ortvalue_output("m_next", buf["m" + dst])
            bindings.append(io)
        self._buffers, self._bindings = buf, (bindings[0], bindings[1])
        return buf, self._bindings

    def run(
        self,
        x0: Array,
        label: Array,
        *,
        eps: float | Array,
        alpha: float | Array,
        steps: int,
        mu: float = 1.0,
        x_init: Array | None = None,
    ) -> StepResult:
        """``steps`` fused steps from ``x_init`` (default x0) with budget ``eps`` and step ``alpha``
        (scalars or per-sample [n]), all in [0, 1] pixel units; a negative ``alpha`` steps down the
        loss (every fused update is odd in the gradient). A label of OWN_PREDICTION is the
        model's prediction at ``x_init``, read off the first step's logits and kept for the others."""
        x0s = self._check_x(x0)
        n = x0s.shape[0]
        labels = self._check_label(label, n)
        if steps < 1:
            raise ParameterError(f"steps must be ≥ 1, got {steps}")
        eps_v = np.broadcast_to(np.asarray(eps, np.float32), (n,)).copy()
        alpha_v = np.broadcast_to(np.asarray(alpha, np.float32), (n,)).copy()
        if (eps_v < 0).any():
            raise ParameterError("eps must be ≥ 0")
        start = x0s if x_init is None else self._check_x(x_init)
        if start.shape != x0s.shape:
            raise ShapeError(f"x_init has shape {list(start.shape)} but x0 has {list(x0s.shape)}")
        buf, (ab, ba) = self._bind()
        out_x, out_z, out_l, out_y = [], [], [], []
        for s, e in self._chunks(n):
            rows = self.batch
            buf["xa"].update_inplace(self._pad(start[s:e], rows))
            buf["x0"].update_inplace(self._pad(x0s[s:e], rows))
            buf["label"].update_inplace(self._pad(labels[s:e], rows))
            buf["eps"].update_inplace(self._pad(eps_v[s:e], rows))
            buf["alpha"].update_inplace(self._pad(alpha_v[s:e], rows))
            if self.uses_momentum:
                buf["ma"].update_inplace(np.zeros(self.input_shape, np.float32))
                buf["mu"].update_inplace(np.asarray(mu, np.float32))
            chunk_labels = labels[s:e]
            for i in range(steps):
                self.session.run_with_iobinding(ab if i % 2 == 0 else ba, self._run_options[i % 2])
                if i == 0 and (chunk_labels < 0).any():
                    # The graph took argmax(logits) for these; fix them so later steps keep them.
                    own = np.argmax(buf["logits"].numpy()[: e - s], axis=1)
                    chunk_labels = np.where(chunk_labels < 0, own, chunk_labels).astype(np.int64)
                    buf["label"].update_inplace(self._pad(chunk_labels, rows))
            final = buf["xb"] if steps % 2 == 1 else buf["xa"]
            # .numpy() of a CPU OrtValue is a view of the bound buffer, which the next chunk overwrites.
            out_x.append(final.numpy()[: e - s].copy())
            out_z.append(buf["logits"].numpy()[: e - s].copy())
            out_l.append(buf["loss"].numpy()[: e - s].copy())
            out_y.append(chunk_labels)
        cat = np.concatenate
        return StepResult(cat(out_x), cat(out_z), cat(out_l), cat(out_y))


__all__ = [
    "OWN_PREDICTION",
    "GradResult",
    "GradientModel",
    "Provider",
    "StepResult",
    "StepRunner",
    "make_session",
    "provider_names",
]
