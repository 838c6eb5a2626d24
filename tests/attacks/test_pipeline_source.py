"""The pipeline source: the resize + pad warp is the defense's kernel exactly, its adjoint is exact, BPDA's
forward pass is the defense's transforms, and a pipeline of models alone is the plain source."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from advengine.attacks.pipeline_source import PipelineSource, canvas_warp, mixture_logits, pipeline_source
from advengine.attacks.sources import Source
from advengine.data.images import from_model_output, to_model_input
from advengine.defenses.pipeline import resize_pad_nearest
from advengine.kernels.transforms import PipelineSpec, ResizePadDraw, parse_transform

U8 = npt.NDArray[np.uint8]
Sample = tuple[U8, npt.NDArray[np.int64], npt.NDArray[np.int64]]
LITE0 = ("efficientnet-lite0",)


def test_canvas_warp_is_the_defense_kernel(sample8: Sample) -> None:
    images = sample8[0][:2]
    for draw in (
        ResizePadDraw(310, 5, 11, 330),
        ResizePadDraw(299, 0, 31, 330),
        ResizePadDraw(329, 1, 0, 330),
    ):
        warp, pad = canvas_warp(2, 299, draw)
        ours = from_model_output(warp.apply(to_model_input(images)) + pad)
        assert np.array_equal(ours, resize_pad_nearest(images, draw.size, draw.canvas, draw.top, draw.left))


def test_canvas_warp_adjoint_is_exact() -> None:
    rng = np.random.default_rng(0)
    warp, _ = canvas_warp(2, 299, ResizePadDraw(317, 3, 9, 330))
    x = rng.normal(size=(2, 3, 299, 299)).astype(np.float32)
    g = rng.normal(size=(2, 3, 330, 330)).astype(np.float32)
    lhs = float(np.vdot(warp.apply(x).astype(np.float64), g))
    rhs = float(np.vdot(x.astype(np.float64), warp.adjoint(g, x.shape)))
    assert abs(lhs - rhs) <= 1e-6 * abs(lhs)


def test_models_alone_are_the_plain_source() -> None:
    src = pipeline_source(PipelineSpec(LITE0), loss="ce", rng=np.random.default_rng(0), eot_draws=3)
    assert type(src) is Source


def test_bpda_forward_is_the_defense_transform(sample8: Sample) -> None:
    spec = PipelineSpec(LITE0, (parse_transform("median:2"), parse_transform("bit-depth:4")))
    src = pipeline_source(spec, loss="ce", rng=np.random.default_rng(0), eot_draws=1)
    assert isinstance(src, PipelineSource)
    images = sample8[0][:2]
    expected = images
    for t in spec.transforms:
        expected = t(expected)
    assert np.array_equal(from_model_output(src.transform(to_model_input(images))), expected)


def test_eot_gradient_averages_draws(sample8: Sample) -> None:
    spec = PipelineSpec(LITE0, draws=30)
    src = pipeline_source(spec, loss="ce", rng=np.random.default_rng(0), eot_draws=2)
    x = to_model_input(sample8[0][:2])
    logits, g = src.grad(x, np.array([0, 1]))
    assert g.shape == x.shape
    assert logits.shape == (2, 1000)
    assert np.isfinite(g).all()
    assert float(np.abs(g).max()) > 0


def test_dropout_draws_fresh_masks_in_each_eot_view(sample8: Sample) -> None:
    # Dropout alone (no resize + pad): every EOT draw is the same view, the randomness is the graph's.
    spec = PipelineSpec(LITE0, dropout=0.5)
    src = pipeline_source(spec, loss="ce", rng=np.random.default_rng(0), eot_draws=3)
    assert isinstance(src, PipelineSource)
    x = to_model_input(sample8[0][:2])
    views = list(src.views(x))
    assert len(views) == 3
    assert all(v is views[0][0] for v, _ in views)
    a, b = src.base.logits(x), src.base.logits(x)
    assert a.shape == (2, 1000)
    assert not np.array_equal(a, b)


def test_mixture_logits_are_log_mean_probabilities() -> None:
    a = np.array([[0.0, 1.0]], np.float32)
    b = np.array([[2.0, 0.0]], np.float32)
    p = (np.exp(a) / np.exp(a).sum() + np.exp(b) / np.exp(b).sum()) / 2
    assert np.allclose(mixture_logits([a, b]), np.log(p), atol=1e-6)
    assert mixture_logits([a]) is a
