"""Einsum VJPs on the contractions attention exports use (and implicit outputs, ellipses, summed-out
letters) against float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from advengine.errors import UnsupportedOpError
from advengine.graph import compile_gradient_graph

from ..conftest import check_vjp, make_model, rand


@pytest.mark.parametrize(
    ("equation", "shape", "other", "x_is_second"),
    [
        ("bhqd,bhkd->bhqk", (2, 3, 4, 5), (2, 3, 6, 5), False),  # attention scores
        ("bhqk,bhkd->bhqd", (2, 3, 4, 6), (2, 3, 6, 5), False),  # attention-weighted values
        ("bhqk,bhkd->bhqd", (2, 3, 6, 5), (2, 3, 4, 6), True),
        ("...qd,...kd->...qk", (2, 3, 4, 5), (1, 3, 6, 5), False),  # ellipsis, broadcast operand
        ("bij,jk", (2, 3, 4), (4, 5), False),  # implicit output: bik
        ("bij,j->bi", (2, 3, 4), (4,), False),
        ("bij->bj", (2, 3, 4), None, False),  # a letter summed out of the only operand
        ("bij,bkl->bil", (2, 3, 4), (2, 2, 5), False),  # letters summed out of each operand
    ],
)
def test_einsum_matches_finite_differences(
    equation: str, shape: tuple[int, ...], other: tuple[int, ...] | None, x_is_second: bool
) -> None:
    rng = np.random.default_rng(0)
    inits = {}
    if other is None:
        inputs = ["input"]
    else:
        # The other operand depends on the image too (as q and k both do in attention), through a Tanh
        # of a constant-weighted view, so both operand gradients are exercised.
        inits["w"] = rand(rng, *other)
        inputs = ["input", "w"]
        if x_is_second:
            inputs = ["w", "input"]
    nodes = [helper.make_node("Einsum", inputs, ["y"], equation=equation)]
    x = rand(rng, *shape)
    check_vjp(make_model(nodes, shape, inits), x, directions=2, rng=rng)


def test_einsum_with_both_operands_image_dependent() -> None:
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Tanh", ["input"], ["k"]),
        helper.make_node("Einsum", ["input", "k"], ["y"], equation="bqd,bkd->bqk"),
    ]
    x = rand(rng, 2, 4, 3)
    check_vjp(make_model(nodes, x.shape, {}), x, directions=2, rng=rng)


def test_einsum_diagonal_is_refused_before_running() -> None:
    node = helper.make_node("Einsum", ["input"], ["y"], equation="bii->bi", name="diag")
    with pytest.raises(UnsupportedOpError, match=r"Einsum 'diag' takes a diagonal"):
        compile_gradient_graph(make_model([node], (2, 3, 3), {}), batch=2)
