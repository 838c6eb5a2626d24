"""The VJP rule table: one module per op family, each registering its rules into :data:`RULES`."""

from advengine.graph.rules import (  # noqa: F401  (importing registers the rules)
    activations,
    conv,
    einsum,
    elementwise,
    indexing,
    linalg,
    normalization,
    pooling,
    resize,
    shape,
    unary,
)
from advengine.graph.rules.base import CHECKS, RULES, Grads, Rule, RuleContext

__all__ = ["CHECKS", "RULES", "Grads", "Rule", "RuleContext"]
