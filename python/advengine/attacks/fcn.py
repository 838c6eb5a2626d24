"""``fcn``: iwiwi's attack FCN (NIPS 2017, fourth in the non-targeted track), one forward pass of a
trained network per batch instead of an iterative attack (docs/fcn.md).

Per batch: the hint model's input gradient at its own prediction (one forward and backward pass of
that model, :func:`fcn_hint`), then the FCN (:mod:`advengine.models.fcn`), whose output is within ε
by construction; :meth:`Attack.__call__` still rounds and projects it like any attack's. The weights
are the shipped ones (``models/weights/attack-fcn.json``) or a trained run's manifest (``weights``),
their sha256 checked on load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from advengine.attacks.base import ATTACKS, Attack
from advengine.attacks.gradient import nothing_to_do
from advengine.attacks.sources import IMAGE_SIDE, MAX_GRAPH_BATCH, get_source
from advengine.context import RunContext
from advengine.errors import GraphError
from advengine.graph.runner import OWN_PREDICTION, make_session
from advengine.params import Params
from advengine.types import ImagesF32, Labels


def fcn_hint(x: ImagesF32, model: str, context: RunContext | None, side: int = IMAGE_SIDE) -> ImagesF32:
    """sign(∇ₓ CE) of ``model`` at its own prediction: the FCN's gradient hint (±1, 0 where flat)."""
    source = get_source((model,), context=context, side=side)
    _, grad = source.grad(x, np.full(len(x), OWN_PREDICTION, np.int64))
    return np.sign(grad).astype(np.float32)


class FcnParams(Params):
    #: A trained FCN's manifest (``advengine train attack-fcn`` writes ``--out/attack-fcn.json``);
    #: None: the shipped weights.
    weights: str | None = None


class FcnAttack(Attack[FcnParams]):
    """One forward pass of the trained attack FCN, with its hint model's gradient as extra input."""

    params_type = FcnParams

    def __init__(self, params: FcnParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        # Deferred: the FCN's module reads and writes graphs with onnx (about 1 s to import), which
        # `advengine attack` and the API must not pay unless this attack runs.
        from advengine.models.fcn import SHIPPED, load_fcn

        path = Path(params.weights) if params.weights else SHIPPED
        self.model, self.manifest = load_fcn(path)
        self._session: Any = None

    def warm_up(self, batch: int) -> None:
        self._fcn()
        get_source((self.manifest.hint_model,), context=self.context).warm_up(
            max(1, min(batch, MAX_GRAPH_BATCH))
        )

    def _fcn(self) -> Any:
        if self._session is None:
            self._session = make_session(self.model, context=self.context)
        return self._session

    def run(
        self, x: ImagesF32, eps: float, target_classes: Labels | None, rng: np.random.Generator
    ) -> ImagesF32:
        if nothing_to_do(self.name, x, eps):
            return x
        from advengine.models.fcn import INPUT, OUTPUT, pack_input  # loaded with the weights already

        eps_px = round(eps * 255)
        hint = fcn_hint(x, self.manifest.hint_model, self.context)
        session = self._fcn()
        parts = []
        try:
            for i in range(0, len(x), MAX_GRAPH_BATCH):
                packed = pack_input(x[i : i + MAX_GRAPH_BATCH], hint[i : i + MAX_GRAPH_BATCH], eps_px)
                parts.append(session.run([OUTPUT], {INPUT: packed})[0])
        except Exception as exc:  # ORT's own exception types
            raise GraphError(
                f"ONNX Runtime failed running the attack FCN: {' '.join(str(exc).split())[:300]}"
            ) from None
        out: ImagesF32 = np.concatenate(parts).astype(np.float32)
        return out


ATTACKS.register_preset(
    "fcn",
    FcnAttack,
    doc="iwiwi's attack FCN: one forward pass of a trained network fed the hint model's gradient "
    "(shipped weights: trained against lite0 + lite1, hint lite0; docs/fcn.md).",
)


__all__ = ["FcnAttack", "FcnParams", "fcn_hint"]
