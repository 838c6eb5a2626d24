"""The gradient compiler: classifier ONNX → forward + reverse-mode (VJP) graph of standard ONNX ops
that stock onnxruntime runs, plus loss heads, ensembles, fused attack steps and an IO-binding runner.
See docs/gradients.md."""

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
