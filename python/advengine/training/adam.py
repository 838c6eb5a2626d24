"""Adam (Kingma & Ba 2015) on the host, in place.

The parameters are the numpy arrays ONNX Runtime reads through IO binding (OrtValues over the same
memory), so every update is written into those arrays and never rebinds or copies them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from advengine.errors import ShapeError

F32 = npt.NDArray[np.float32]


class Adam:
    """Bias-corrected Adam with step size ``lr``; ``m``/``v`` are the moment estimates, ``t`` the
    number of updates so far (all of it is what a checkpoint must hold to continue exactly)."""

    def __init__(
        self,
        params: Mapping[str, F32],
        lr: float,
        *,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.params = dict(params)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = {k: np.zeros_like(p) for k, p in self.params.items()}
        self.v = {k: np.zeros_like(p) for k, p in self.params.items()}
        self.t = 0

    def load(self, m: Mapping[str, F32], v: Mapping[str, F32], t: int) -> None:
        """Restore the moments and the update count of a checkpoint (copied into this optimiser)."""
        for name in self.params:
            for mine, theirs in ((self.m, m), (self.v, v)):
                if name not in theirs or theirs[name].shape != mine[name].shape:
                    raise ShapeError(f"the checkpoint's Adam state does not fit parameter {name}")
                np.copyto(mine[name], theirs[name])
        self.t = t

    def step(self, grads: Mapping[str, F32]) -> None:
        """One update from the gradients of the loss to *descend*, in place."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # Bias corrections folded into the step size (the paper's "efficient version").
        step = np.float32(self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t))
        eps = np.float32(self.eps * np.sqrt(1 - b2**self.t))
        for name, p in self.params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            m *= np.float32(b1)
            m += np.float32(1 - b1) * g
            v *= np.float32(b2)
            v += np.float32(1 - b2) * g * g
            p -= step * m / (np.sqrt(v) + eps)


__all__ = ["Adam"]
