"""Einsum: the gradient of operand k is another einsum, of dY with the other operands, written to
operand k's subscripts. Letters that only operand k carries (summed out in the forward) come back by
Expand; operands broadcast along an ellipsis are summed back. Repeated letters within one operand
(diagonals, traces) are refused before anything runs."""

from __future__ import annotations

import string

import onnx

from advengine.errors import UnsupportedOpError
from advengine.graph.rules.base import Grads, RuleContext, attrs, check, output_rule


def _split(equation: str) -> tuple[list[str], str | None]:
    eq = equation.replace(" ", "")
    lhs, _, rhs = eq.partition("->")
    return lhs.split(","), (rhs if "->" in eq else None)


@check("Einsum")
def no_diagonals(node: onnx.NodeProto, model_name: str) -> None:
    terms, _ = _split(str(attrs(node)["equation"]))
    for term in terms:
        letters = term.replace("...", "")
        if len(set(letters)) != len(letters):
            raise UnsupportedOpError(
                f"{model_name}: Einsum {node.name!r} takes a diagonal ({term!r}); only contractions with "
                "distinct letters per operand have a gradient rule"
            )


def _explicit(ctx: RuleContext, node: onnx.NodeProto) -> tuple[list[str], str]:
    """Operand and output subscripts with any ellipsis replaced by unused letters."""
    terms, out = _split(str(attrs(node)["equation"]))
    used = set("".join(terms))
    spare = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in used]
    broadcast = 0
    for term, name in zip(terms, node.input, strict=True):
        if "..." in term:
            broadcast = max(broadcast, len(ctx.shape(name)) - len(term.replace("...", "")))
    fill = "".join(spare[:broadcast])
    if out is None:
        # Implicit output: the ellipsis, then every letter used exactly once, alphabetically.
        joined = "".join(t.replace("...", "") for t in terms)
        out = ("..." if any("..." in t for t in terms) else "") + "".join(
            sorted(c for c in set(joined) if joined.count(c) == 1)
        )
    full: list[str] = []
    for term, name in zip(terms, node.input, strict=True):
        if "..." in term:
            n = len(ctx.shape(name)) - len(term.replace("...", ""))
            term = term.replace("...", fill[broadcast - n :])
        full.append(term)
    return full, out.replace("...", fill)


@output_rule("Einsum")
def einsum(ctx: RuleContext, node: onnx.NodeProto, dy: str) -> Grads:
    terms, out = _explicit(ctx, node)
    sizes: dict[str, int] = {}
    for term, name in zip(terms, node.input, strict=True):
        for letter, d in zip(term, ctx.shape(name), strict=True):
            sizes[letter] = max(sizes.get(letter, 1), d)
    b = ctx.b
    result: Grads = []
    for k, (term, name) in enumerate(zip(terms, node.input, strict=True)):
        if not ctx.needs(name):
            result.append(None)
            continue
        others = [(t, n) for j, (t, n) in enumerate(zip(terms, node.input, strict=True)) if j != k]
        reachable = set(out).union(*(set(t) for t, _ in others))
        kept = "".join(c for c in term if c in reachable)
        eq = ",".join([out, *(t for t, _ in others)]) + "->" + kept
        g = b.op("Einsum", [dy, *(n for _, n in others)], "einsum_grad", equation=eq)
        if kept != term:
            # Letters summed out in the forward: every position got the same gradient.
            missing = [i for i, c in enumerate(term) if c not in reachable]
            g = b.op("Unsqueeze", [g, b.ints(missing)])
        full = tuple(sizes[c] for c in term)
        if kept != term:
            g = b.op("Expand", [g, b.ints(list(full))])
        result.append(ctx.unbroadcast(g, ctx.shape(name), full))
    return result
