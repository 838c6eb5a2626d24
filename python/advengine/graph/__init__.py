"""The gradient compiler: classifier ONNX → forward + reverse-mode (VJP) graph of standard ONNX ops
that stock onnxruntime runs, plus loss heads, ensembles, fused attack steps and an IO-binding runner.
See docs/gradients.md.

The names below are imported on first use (PEP 562): the compiler imports ``onnx``, which costs about
1 s (its ml_dtypes extension), and a run whose graphs are already compiled only needs the runner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advengine.graph.compiler import (
        COMPILER_VERSION,
        ForwardSpec,
        compile_gradient_graph,
        compile_spec,
        param_grad_name,
        trainable_params,
    )
    from advengine.graph.heads import LOSSES
    from advengine.graph.rules import RULES
    from advengine.graph.steps import STEPS

_HOMES = {
    "COMPILER_VERSION": "compiler",
    "ForwardSpec": "compiler",
    "compile_gradient_graph": "compiler",
    "compile_spec": "compiler",
    "param_grad_name": "compiler",
    "trainable_params": "compiler",
    "LOSSES": "heads",
    "RULES": "rules",
    "STEPS": "steps",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = [
    "COMPILER_VERSION",
    "LOSSES",
    "RULES",
    "STEPS",
    "ForwardSpec",
    "compile_gradient_graph",
    "compile_spec",
    "param_grad_name",
    "trainable_params",
]
