"""A compiled training graph with its inputs and outputs bound once to numpy buffers through IO
binding (OrtValues over the same memory): a step copies only its new batch into the input buffers,
and ONNX Runtime writes the loss and the gradients straight into the output arrays. Parameters are
bound as inputs over the very arrays Adam updates in place, so nothing is rebound between steps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

from advengine.context import RunContext
from advengine.errors import GraphError
from advengine.graph.params import param_grad_name
from advengine.graph.runner import make_session

F32 = npt.NDArray[np.float32]


class BoundGraph:
    """``inputs`` and ``outputs``: graph name → the numpy array bound to it (kept, not copied)."""

    def __init__(
        self,
        graph: onnx.ModelProto,
        inputs: Mapping[str, np.ndarray[Any, Any]],
        outputs: Mapping[str, np.ndarray[Any, Any]],
        context: RunContext | None,
    ) -> None:
        self.session = make_session(graph, context=context)
        names = {i.name for i in self.session.get_inputs()} | {o.name for o in self.session.get_outputs()}
        self.inputs = dict(inputs)
        self.outputs = dict(outputs)
        self.io = self.session.io_binding()
        # The OrtValues wrap the numpy arrays' memory (CPU); they are kept alive with the binding.
        self._values: list[Any] = []
        for is_input, group in ((True, self.inputs), (False, self.outputs)):
            for name, arr in group.items():
                if name not in names:
                    kind = "input" if is_input else "output"
                    raise GraphError(f"the training graph has no {kind} {name!r}")
                value = ort.OrtValue.ortvalue_from_numpy(arr)
                self._values.append(value)
                if is_input:
                    self.io.bind_ortvalue_input(name, value)
                else:
                    self.io.bind_ortvalue_output(name, value)

    def run(self, feeds: Mapping[str, np.ndarray[Any, Any]]) -> None:
        """Copy ``feeds`` into their bound input buffers and run; results land in :attr:`outputs`."""
        for name, value in feeds.items():
            np.copyto(self.inputs[name], value)
        self.session.run_with_iobinding(self.io)


class ParamStep:
    """A compiled training graph (the gradient compiler's ``wrt_params``) bound once: ``feeds`` (graph
    input → a buffer of the batch's shape and dtype), the parameters as inputs ``prefix + name`` over
    the very arrays Adam updates, and outputs ``loss`` (per sample) and every parameter's gradient,
    written into :attr:`grads` (same names as ``params``)."""

    def __init__(
        self,
        graph: onnx.ModelProto,
        params: Mapping[str, F32],
        feeds: Mapping[str, np.ndarray[Any, Any]],
        context: RunContext | None,
        *,
        prefix: str = "",
    ) -> None:
        self.grads = {k: np.zeros_like(p) for k, p in params.items()}
        batch = len(next(iter(feeds.values())))
        inputs: dict[str, np.ndarray[Any, Any]] = dict(feeds)
        inputs.update({prefix + k: p for k, p in params.items()})
        outputs = {"loss": np.zeros((batch,), np.float32)}
        outputs.update({param_grad_name(prefix + k): g for k, g in self.grads.items()})
        self.bound = BoundGraph(graph, inputs, outputs, context)
        self.loss = outputs["loss"]

    def run(self, feeds: Mapping[str, np.ndarray[Any, Any]]) -> F32:
        """The loss per sample of the batch ``feeds``; the gradients land in :attr:`grads`."""
        self.bound.run(feeds)
        return self.loss


__all__ = ["BoundGraph", "ParamStep"]
