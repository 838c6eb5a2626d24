"""Attack steps fused into the gradient graph, so one ``Run()`` does forward, gradient and update.

Heads are losses to *ascend*, so every step moves along +gradient direction. Runtime inputs: ``x0``
(clean image), ``eps`` and ``alpha`` ([N], per-sample budgets), and for momentum steps ``momentum``
(same shape as x) and ``mu`` (scalar). After the update: projection onto [x0−ε, x0+ε], then [0, 1].

* ``sign`` (FGSM / I-FGSM / PGD): x' = x + α·sign(g).
* ``mifgsm`` (Dong et al.): m' = μ·m + g / mean|g| (per sample), x' = x + α·sign(m').
* ``mifgsm-targeted`` (TSAIL's targeted NIPS17 entry): n = g/std(g) (population std per sample),
  n = μ·m + n, n = n/std(n), m' = n, x' = x + α·clip(round(n), −2, 2), round half to even. With the
  ``ce-targeted`` head (g = −∇CE(t)) this is exactly TSAIL's x − α·clip(round(n_TSAIL), −2, 2): n is
  n_TSAIL negated, and round-half-even and the clip are odd-symmetric.

Divisions use max(·, 1e-30) so an all-zero gradient gives a zero step instead of NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import helper

from advengine.errors import ParameterError
from advengine.graph.builder import GraphBuilder

STEPS = ("sign", "mifgsm", "mifgsm-targeted")
TINY = 1e-30


@dataclass
class Step:
    x_next: str
    m_next: str | None


def check_step(kind: str) -> None:
    if kind not in STEPS:
        raise ParameterError(f"unknown step {kind!r}; choose one of {', '.join(STEPS)}")


def uses_momentum(kind: str) -> bool:
    return kind != "sign"


def _per_sample_mean(b: GraphBuilder, t: str, rank: int) -> str:
    return b.op("ReduceMean", [t, b.ints(list(range(1, rank)))], keepdims=1)


def _standardise(b: GraphBuilder, t: str, rank: int) -> str:
    centred = b.op("Sub", [t, _per_sample_mean(b, t, rank)])
    std = b.op("Sqrt", [_per_sample_mean(b, b.mul(centred, centred), rank)])
    return b.op("Div", [t, b.op("Max", [std, b.const(TINY)])])


def build_step(b: GraphBuilder, kind: str, x: str, grad: str, shape: tuple[int, ...]) -> Step:
    check_step(kind)
    rank = len(shape)
    per_sample = [shape[0]] + [1] * (rank - 1)
    eps = b.reshape("eps", per_sample)
    alpha = b.reshape("alpha", per_sample)
    m_next = None
    if kind == "sign":
        direction = b.op("Sign", [grad])
    elif kind == "mifgsm":
        mean_abs = _per_sample_mean(b, b.op("Abs", [grad]), rank)
        normed = b.op("Div", [grad, b.op("Max", [mean_abs, b.const(TINY)])])
        m_next = b.op("Add", [b.mul("mu", "momentum"), normed], "m_next")
        direction = b.op("Sign", [m_next])
    else:
        n = b.op("Add", [b.mul("mu", "momentum"), _standardise(b, grad, rank)])
        m_next = _standardise(b, n, rank)
        direction = b.op("Clip", [b.op("Round", [m_next]), b.const(-2.0), b.const(2.0)])
    moved = b.op("Add", [x, b.mul(alpha, direction)])
    low = b.op("Sub", ["x0", eps])
    high = b.op("Add", ["x0", eps])
    projected = b.op("Min", [b.op("Max", [moved, low]), high])
    x_next = b.op("Clip", [projected, b.const(0.0), b.const(1.0)], "x_next")
    return Step(x_next, m_next)


def step_inputs(kind: str, shape: tuple[int, ...]) -> list[onnx.ValueInfoProto]:
    f = onnx.TensorProto.FLOAT
    out = [
        helper.make_tensor_value_info("x0", f, list(shape)),
        helper.make_tensor_value_info("eps", f, [shape[0]]),
        helper.make_tensor_value_info("alpha", f, [shape[0]]),
    ]
    if uses_momentum(kind):
        out.append(helper.make_tensor_value_info("momentum", f, list(shape)))
        out.append(helper.make_tensor_value_info("mu", f, []))
    return out


__all__ = ["STEPS", "Step", "build_step", "check_step", "step_inputs", "uses_momentum"]
