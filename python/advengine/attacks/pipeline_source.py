"""A whole defense pipeline as an attack source (Athalye, Carlini and Wagner 2018).

A :class:`~advengine.kernels.transforms.PipelineSpec` (what a pipeline defense does: transforms →
random resize + pad draws → fused models) becomes a gradient oracle with the interface of
:class:`~advengine.attacks.sources.Source`:

* **BPDA** through the transforms (median, JPEG, bit depth, resize round trip): the forward pass runs
  the defense's own uint8 kernels on the rounded image, exactly what the defense will see; the
  backward pass is the identity (∂T(x)/∂x ≈ I), i.e. the gradient of the models is taken at T(x) and
  used as the gradient at x. The resize round trip is differentiable, but it is a near-identity, so
  BPDA through it loses little and keeps one rule for every transform.
* **EOT** over the random resize + pad: each of ``eot_draws`` draws per step samples a flip, a size
  and an offset from the defense's own distribution (:func:`draw_resize_pad`), applies the nearest
  resize + gray pad on the host as a sparse linear map (:class:`~advengine.attacks.augment.Warp`) and
  maps the model's gradient (a graph compiled at the canvas side) back through its exact adjoint;
  the gradients of the draws are averaged (the gradient of the expected loss), the probabilities too.
* **EOT over dropout** kept on at inference: the models' graph carries the mask
  (:mod:`advengine.models.dropout`, noise drawn inside the graph), so each draw's run, forward and
  backward, uses its own fresh mask; with dropout alone (no resize + pad), each draw is one run on
  the same view. A loss applied on the host from the logits (``loss_grad``: APGD's DLR) takes dZ
  from one run's logits and the VJP through the next run's masks, a sample of the same expectation.

Flips are drawn independently per draw with ``flip_prob``; the defense keeps a persistent flip state
across its draws, whose marginal is the same 1/2 after the first draw at ``flip_prob`` = 1/2. One
draw serves the whole batch (the defense may draw per image: the same distribution per image, but
the images of a batch share a draw here, so one warp serves the batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from advengine.attacks.augment import Warp
from advengine.attacks.sources import IMAGE_SIDE, FusedSteps, Source, get_source
from advengine.context import RunContext
from advengine.data.images import from_model_output, to_model_input
from advengine.errors import InternalError
from advengine.graph.runner import StepResult
from advengine.kernels.transforms import PAD_GRAY, PipelineSpec, ResizePadDraw, draw_resize_pad

F32 = npt.NDArray[np.float32]
#: dLoss/dZ of a loss of the logits, given the logits [n, K] (for losses without a compiled head).
DzFn = Callable[[F32], F32]
Back = Callable[[F32], F32]


def nearest_table(length: int, out: int) -> npt.NDArray[np.int64]:
    """TF1 nearest-neighbour source indices (no half-pixel centres, float32 scale), as the Rust
    ``resize_pad`` kernel: ``min(floor(dst · float32(length / out)), length − 1)``."""
    scale = np.float32(length / out)
    table: npt.NDArray[np.int64] = np.minimum(
        np.floor(np.arange(out, dtype=np.float32) * scale), length - 1
    ).astype(np.int64)
    return table


def canvas_warp(n: int, side: int, draw: ResizePadDraw) -> tuple[Warp, F32]:
    """The draw as a linear map side² → canvas² (nearest resize placed at top/left) and the constant
    gray of the padding it adds outside the placed copy."""
    c = draw.canvas
    ys, xs = np.meshgrid(np.arange(c), np.arange(c), indexing="ij")
    inside = (ys >= draw.top) & (ys < draw.top + draw.size) & (xs >= draw.left) & (xs < draw.left + draw.size)
    table = nearest_table(side, draw.size)
    sy = table[np.clip(ys - draw.top, 0, draw.size - 1)]
    sx = table[np.clip(xs - draw.left, 0, draw.size - 1)]
    idx = (sy * side + sx).reshape(1, 1, -1)
    w = inside.astype(np.float32).reshape(1, 1, -1)
    pad = np.where(inside, 0.0, PAD_GRAY / 255.0).astype(np.float32)
    return Warp(np.repeat(idx, n, axis=0), np.repeat(w, n, axis=0), c), pad


def _flip(x: F32) -> F32:
    return np.ascontiguousarray(x[..., ::-1])


class PipelineSource(Source):
    """Gradients and scores of a defense pipeline (BPDA + EOT) over the models' source ``base``."""

    def __init__(self, spec: PipelineSpec, base: Source, rng: np.random.Generator, eot_draws: int) -> None:
        super().__init__(base.key)
        self.spec = spec
        self.base = base
        self.rng = rng
        self.eot_draws = max(1, eot_draws) if spec.randomized else 1

    def transform(self, x: F32) -> F32:
        """The deterministic transforms on the rounded image, as the defense applies them (BPDA's
        forward pass); the identity without transforms (no rounding either, so plain sources keep
        their exact gradients)."""
        if not self.spec.transforms:
            return x
        u8 = from_model_output(x)
        for t in self.spec.transforms:
            u8 = t(u8)
        return to_model_input(u8)

    def views(self, x: F32) -> Iterator[tuple[F32, Back]]:
        """What the models see, one view per EOT draw, each with the map of its gradient back to x."""
        xt = self.transform(x)
        if not self.spec.randomized:
            yield xt, lambda g: g
            return
        for _ in range(self.eot_draws):
            if not self.spec.draws:  # dropout only: the randomness is in the graph's run
                yield xt, lambda g: g
                continue
            flip = bool(self.rng.random() < self.spec.flip_prob)
            d = draw_resize_pad(self.rng, self.spec.size_low, self.spec.size_high, self.spec.canvas)
            warp, pad = canvas_warp(len(x), x.shape[-1], d)
            view = warp.apply(_flip(xt) if flip else xt) + pad

            def back(g: F32, warp: Warp = warp, flip: bool = flip) -> F32:
                gx = warp.adjoint(g, x.shape)
                return _flip(gx) if flip else gx

            yield view, back

    def grad(self, x: F32, class_idx: npt.NDArray[np.int64]) -> tuple[F32, F32]:
        zs, gs = [], []
        for view, back in self.views(x):
            z, g = self.base.grad(view, class_idx)
            zs.append(z)
            gs.append(back(g))
        return mixture_logits(zs), np.mean(gs, axis=0).astype(np.float32)

    def loss_grad(self, x: F32, dz: DzFn) -> tuple[F32, F32]:
        zs, gs = [], []
        for view, back in self.views(x):
            z, g = self.base.loss_grad(view, dz)
            zs.append(z)
            gs.append(back(g))
        return mixture_logits(zs), np.mean(gs, axis=0).astype(np.float32)

    def steps(
        self, plan: FusedSteps, x0: F32, class_idx: npt.NDArray[np.int64], x_init: F32 | None = None
    ) -> StepResult:
        # The fused steps live in the models' graph, which cannot run the host-side transforms.
        raise InternalError("a pipeline source has no fused steps; run the loop on the host")

    def logits(self, x: F32) -> F32:
        return mixture_logits([self.base.logits(view) for view, _ in self.views(x)])


def mixture_logits(zs: list[F32]) -> F32:
    """One view's logits, or the log of the mean probabilities over EOT draws (the randomised
    defense averages probabilities over its draws)."""
    if len(zs) == 1:
        return zs[0]
    z = np.stack(zs).astype(np.float64)
    e = np.exp(z - z.max(axis=2, keepdims=True))
    prob = (e / e.sum(axis=2, keepdims=True)).mean(axis=0)
    out: F32 = np.log(np.maximum(prob, 1e-30)).astype(np.float32)
    return out


def pipeline_source(
    spec: PipelineSpec,
    *,
    loss: str,
    kappa: float = 0.0,
    weights: tuple[float, ...] | None = None,
    rng: np.random.Generator,
    eot_draws: int,
    context: RunContext | None = None,
) -> Source:
    """The source of ``spec``: the plain memoised source where the pipeline is only the models, else
    a :class:`PipelineSource` over the models' graph at the image side (or the resize + pad canvas)."""
    side = spec.canvas if spec.draws else IMAGE_SIDE
    base = get_source(
        spec.models,
        weights,
        fusion=spec.fusion,
        loss=loss,
        kappa=kappa,
        context=context,
        side=side,
        dropout=spec.dropout,
    )
    if not spec.transforms and not spec.randomized:
        return base
    return PipelineSource(spec, base, rng, eot_draws)


__all__ = ["PipelineSource", "canvas_warp", "mixture_logits", "nearest_table", "pipeline_source"]
