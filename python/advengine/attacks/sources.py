"""Source models of the gradient attacks: zoo classifiers compiled by :mod:`advengine.graph` into one
gradient graph on the 299×299 competition input (each member resized differentiably to its native
size inside the graph).

Compiled graphs are cached on disk by content hash (``advengine.graph.cache``) and the ONNX Runtime
sessions in memory, so repeated batches, attacks and tests compile each (models, loss, batch) once.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from advengine.context import RunContext
from advengine.errors import GraphError, ParameterError
from advengine.graph.cache import cached
from advengine.graph.runner import GradientModel, StepResult, StepRunner, make_session
from advengine.models import check_models, ensure_onnx, list_models
from advengine.models.batch_dim import fixed_batch_of
from advengine.models.dropout import dropout_file

#: The competition's image side; every source graph takes [n, 3, 299, 299] in [0, 1].
IMAGE_SIDE = 299
#: Largest graph batch; bigger inputs are run in chunks of this size by the runner.
MAX_GRAPH_BATCH = 25

F32 = npt.NDArray[np.float32]


def zoo_models() -> tuple[str, ...]:
    """Every plain classifier of the zoo, sorted by name (the default source roster)."""
    return tuple(list_models(denoised=False))


def normalised_weights(models: Sequence[str], weights: Sequence[float] | None) -> tuple[float, ...]:
    if not models:
        raise ParameterError("a gradient attack needs at least one source model; pass --models")
    ws = tuple(float(w) for w in weights) if weights else (1.0,) * len(models)
    if len(ws) != len(models) or any(w < 0 for w in ws) or sum(ws) <= 0:
        raise ParameterError(
            f"weights {list(ws)} do not fit the {len(models)} source models {list(models)}; give one "
            "non-negative weight per model"
        )
    total = sum(ws)
    return tuple(w / total for w in ws)


@dataclass(frozen=True)
class SourceKey:
    models: tuple[str, ...]
    weights: tuple[float, ...]
    fusion: str
    loss: str
    kappa: float
    #: Input side of the graph (299, or a random-resize-pad canvas).
    side: int = IMAGE_SIDE
    #: The run's session settings: sources of two contexts are two sources.
    context: RunContext = field(default_factory=RunContext)
    #: Dropout rate kept on in each model before its final layer, masks drawn in the graph (0: none).
    dropout: float = 0.0


@dataclass(frozen=True)
class FusedSteps:
    """What :meth:`Source.steps` runs: ``iterations`` of the update ``step`` (graph/steps.py) with
    budget ``eps``, step ``alpha`` and momentum ``mu``, all in [0, 1] pixel units."""

    step: str
    eps: float
    alpha: float
    iterations: int
    mu: float


def session_batch(n: int, open_batches: Iterable[int]) -> int:
    """The graph batch that runs ``n`` images: the smallest batch already open that holds a chunk of
    them, else min(n, MAX_GRAPH_BATCH). The runner pads a short chunk to the graph's batch with rows
    whose ε and step are 0 (their results are dropped), so the remainder of a run (48 images in
    batches of 25: 25 + 23) runs on the session the full batches opened instead of compiling,
    opening and warming a second graph of its own (issue 25: two sessions and two warm-ups)."""
    want = max(1, min(n, MAX_GRAPH_BATCH))
    fits = [b for b in open_batches if b >= want]
    return min(fits) if fits else want


def _padded(a: F32, rows: int) -> F32:
    """``a`` with zero rows appended up to ``rows`` (a fixed-batch graph's last call); as is for 0."""
    if rows <= len(a):
        return a
    return np.concatenate([a, np.zeros((rows - len(a), *a.shape[1:]), a.dtype)])


class Source:
    """Gradient oracle of one source ensemble: ``grad(x, idx)`` and ``logits(x)`` on 299×299 inputs."""

    def __init__(self, key: SourceKey) -> None:
        self.key = key
        self._grads: dict[int, GradientModel] = {}
        self._steps: dict[tuple[int, str], StepRunner] = {}
        self._forward: Any = None
        self._fixed: tuple[int] | None = None
        self._lock = threading.Lock()

    def _paths(self) -> list[Any]:
        root = self.key.context.cache_dir
        paths = [ensure_onnx(m, cache_root=root) for m in self.key.models]
        if self.key.dropout:
            return [dropout_file(p, self.key.dropout, "graph", root) for p in paths]
        return paths

    def fixed_batch(self) -> int | None:
        """The batch the source's graphs must have when a member model is fixed at one (an import
        that could not be made symbolic, docs/models.md); None when every member is symbolic."""
        if self._fixed is None:
            root = self.key.context.cache_dir
            found = {b for b in (fixed_batch_of(p, root) for p in self._paths()) if b is not None}
            if len(found) > 1:
                raise ParameterError(
                    f"source models {list(self.key.models)} are fixed at different batches {sorted(found)}; "
                    "attack them separately"
                )
            self._fixed = (next(iter(found), 0),)
        return self._fixed[0] or None

    def _graph(self, batch: int, step: str | None) -> Path:
        """The compiled source graph at this batch (a fixed-batch member's, if any: the runner runs
        bigger inputs in padded chunks of it), with the fused ``step`` (graph/steps.py) or none,
        through the on-disk cache."""
        batch = self.fixed_batch() or batch
        paths = self._paths()
        k = self.key
        options: dict[str, Any] = {
            "kind": "attack-source",
            "weights": list(k.weights),
            "fusion": k.fusion,
            "loss": k.loss,
            "kappa": k.kappa,
            "batch": batch,
            "size": k.side,
        }
        if step is not None:
            options["step"] = step

        def build() -> Any:
            # Deferred: the compiler imports onnx (about 1 s); a cached graph needs neither.
            from advengine.graph.ensemble import compile_ensemble

            return compile_ensemble(
                paths,
                weights=list(k.weights),
                fusion=k.fusion,
                size=k.side,
                loss=k.loss,
                kappa=k.kappa,
                batch=batch,
                step=step,
            )

        path, _ = cached(paths, options, build, k.context.cache_dir)
        return path

    def _gradient_model(self, n: int) -> GradientModel:
        with self._lock:
            batch = session_batch(n, self._grads)
            if batch not in self._grads:
                self._grads[batch] = GradientModel(self._graph(batch, None), context=self.key.context)
            return self._grads[batch]

    def _step_runner(self, n: int, step: str) -> StepRunner:
        with self._lock:
            batch = session_batch(n, [b for b, s in self._steps if s == step])
            if (batch, step) not in self._steps:
                self._steps[batch, step] = StepRunner(self._graph(batch, step), context=self.key.context)
            return self._steps[batch, step]

    def steps(
        self, plan: FusedSteps, x0: F32, class_idx: npt.NDArray[np.int64], x_init: F32 | None = None
    ) -> StepResult:
        """The ``plan``'s steps fused into the source graph from ``x_init`` (default x0): one ORT run
        per step through IO binding, the iterate and momentum kept in ORT (StepRunner). Class indices
        of OWN_PREDICTION are the ensemble's prediction at ``x_init``, read off the first step's
        logits; the result's ``labels`` holds the labels used."""
        runner = self._step_runner(len(x0), plan.step)
        p = plan
        return runner.run(x0, class_idx, eps=p.eps, alpha=p.alpha, steps=p.iterations, mu=p.mu, x_init=x_init)

    def warm_up(self, batch: int, step: str | None = None) -> None:
        """Compile (or find in the cache) and open the graph that ``batch`` images will run on: the
        plain gradient graph, or the one with the fused ``step`` when given."""
        if step is None:
            self._gradient_model(batch)
        else:
            self._step_runner(batch, step)

    def grad(self, x: F32, class_idx: npt.NDArray[np.int64]) -> tuple[F32, F32]:
        """(logits, d Σloss / dx) for class indices (TF-Slim label − 1)."""
        result = self._gradient_model(len(x)).grad(x, class_idx)
        return result.logits.astype(np.float32), result.grad.astype(np.float32)

    def vjp(self, x: F32, seed: F32) -> tuple[F32, F32]:
        """(logits, d⟨seed, Z⟩/dx): the gradient of any loss of the logits, given its dLoss/dZ (the
        source must have been made with ``loss="seed"``)."""
        result = self._gradient_model(len(x)).grad(x, seed=np.ascontiguousarray(seed, np.float32))
        return result.logits.astype(np.float32), result.grad.astype(np.float32)

    def loss_grad(self, x: F32, dz: Callable[[F32], F32]) -> tuple[F32, F32]:
        """(logits, dLoss/dx) of a loss given by its dLoss/dZ as a function of the logits: a forward
        pass, then the ``seed`` graph's VJP (needs ``loss="seed"``)."""
        z = self.logits(x)
        _, g = self.vjp(x, dz(z))
        return z, g

    def logits(self, x: F32) -> F32:
        """The fused ensemble's logits (forward only, no gradient)."""
        with self._lock:
            if self._forward is None:
                from advengine.graph.ensemble import ensemble_spec  # deferred, as in _graph

                spec, _ = ensemble_spec(self._paths(), list(self.key.weights), self.key.fusion, self.key.side)
                self._forward = (make_session(spec.model, context=self.key.context), spec.logits)
        session: ort.InferenceSession = self._forward[0]
        name: str = self._forward[1]
        fixed = self.fixed_batch()
        step = fixed or MAX_GRAPH_BATCH
        try:
            parts = [
                session.run([name], {"input": _padded(np.ascontiguousarray(x[i : i + step]), fixed or 0)})[0][
                    : len(x[i : i + step])
                ]
                for i in range(0, len(x), step)
            ]
        except Exception as exc:  # ORT's own types, e.g. a buffer it cannot allocate
            raise GraphError(
                f"ONNX Runtime failed running the source models: {' '.join(str(exc).split())[:300]}"
            ) from None
        out: F32 = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 1000), np.float32)
        return out

    def predict_idx(self, x: F32) -> npt.NDArray[np.int64]:
        return np.asarray(np.argmax(self.logits(x), axis=1), np.int64)


class NegatedSource(Source):
    """The ``ce-targeted`` source: −CE(Z, t) is the negation of CE(Z, t), so it runs the ``ce`` source's
    graph and sessions and negates the gradient. The result equals a compiled ``ce-targeted`` head up to
    float rounding (ORT fuses the two heads differently: 1e-6 at |g| ≈ 2 for lite0, tested). A roster
    with targeted and non-targeted attacks on the same models then holds one gradient graph instead of
    two (1.4 GiB each for lite0 at batch 25). It holds no session of its own: the base does."""

    def __init__(self, key: SourceKey, base: Source) -> None:
        super().__init__(key)
        self.base = base

    def warm_up(self, batch: int, step: str | None = None) -> None:
        self.base.warm_up(batch, step)

    def grad(self, x: F32, class_idx: npt.NDArray[np.int64]) -> tuple[F32, F32]:
        logits, g = self.base.grad(x, class_idx)
        return logits, np.negative(g)

    def logits(self, x: F32) -> F32:
        return self.base.logits(x)

    def steps(
        self, plan: FusedSteps, x0: F32, class_idx: npt.NDArray[np.int64], x_init: F32 | None = None
    ) -> StepResult:
        """The base's fused steps with −alpha. Every fused update is odd in the gradient (sign, and the
        mean-|g| and std normalisations with momentum, round-half-even and the ±2 clip), so stepping
        along −∇CE(t) is stepping along ∇CE(t) with the step negated, the momentum carried negated."""
        return self.base.steps(dataclasses.replace(plan, alpha=-plan.alpha), x0, class_idx, x_init)


#: Sources kept alive between calls. Each holds ONNX Runtime sessions whose CPU arenas grow to
#: gigabytes at batch 25 × 299², so only the most recently used few are kept (least recently used
#: evicted), enough for an attack's own source plus cross-iterative's members.
MAX_LIVE_SOURCES = 3
_SOURCES: OrderedDict[SourceKey, Source] = OrderedDict()
_SOURCES_LOCK = threading.Lock()


def get_source(
    models: Sequence[str],
    weights: Sequence[float] | None = None,
    *,
    fusion: str = "logit",
    loss: str = "ce",
    kappa: float = 0.0,
    context: RunContext | None = None,
    side: int = IMAGE_SIDE,
    dropout: float = 0.0,
) -> Source:
    """The (memoised, LRU) source ensemble of ``models`` with this loss head, whose sessions run in
    ``context``; ``dropout`` > 0 keeps each model's dropout on (a fresh mask per graph run)."""
    check_models(models, "", "source model")
    ctx = context if context is not None else RunContext()
    key = SourceKey(
        tuple(models), normalised_weights(models, weights), fusion, loss, float(kappa), side, ctx, dropout
    )
    if loss == "ce-targeted":
        # A thin view of the memoised ce source, made per call: it holds no session, so it takes no
        # place among the live sources and always wraps the ce source that is live now.
        base = get_source(
            models, weights, fusion=fusion, loss="ce", kappa=kappa, context=ctx, side=side, dropout=dropout
        )
        return NegatedSource(key, base)
    with _SOURCES_LOCK:
        src = _SOURCES.get(key)
        if src is None:
            src = _SOURCES[key] = Source(key)
        _SOURCES.move_to_end(key)
        while len(_SOURCES) > MAX_LIVE_SOURCES:
            _SOURCES.popitem(last=False)
        return src


def clear_sources() -> None:
    """Drops every cached source (and its sessions), e.g. between long measurement runs."""
    with _SOURCES_LOCK:
        _SOURCES.clear()


__all__ = [
    "IMAGE_SIDE",
    "MAX_LIVE_SOURCES",
    "FusedSteps",
    "NegatedSource",
    "Source",
    "SourceKey",
    "clear_sources",
    "get_source",
    "normalised_weights",
    "session_batch",
    "zoo_models",
]
