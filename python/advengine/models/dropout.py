"""Dropout kept on at inference, written into a classifier's ONNX graph with standard ops.

The mask acts on the pooled features right before the final fully connected layer (where
EfficientNet-Lite and the Inception family train their dropout): ``f · [u ≥ p] / (1 − p)`` with
``u ~ U[0, 1)`` per feature and image (GreaterOrEqual, Cast, two Mul). Where ``u`` comes from is
the one thing that differs between the two uses:

* ``noise = "input"`` (defenses): ``u`` is a graph input ``dropout_u`` [N, C] drawn on the host from
  the defense's seeded generator, so a seed gives the same masks on any provider, worker or batch
  order. ORT's RandomUniformLike was not used here: its seed is an attribute fixed when the session is
  made, so its draws would depend on everything the session ran before (warm-up, which batches a
  worker got), and ``eval`` would not be reproducible per batch.
* ``noise = "graph"`` (adaptive attacks): ``u = RandomUniformLike(f)`` inside the graph, so the
  gradient compiler (which takes the image as its only input) differentiates through a fresh mask on
  every run: each EOT draw is one run, forward and backward with the same mask. Its seed attribute is
  derived from the model file, so ensemble members draw independent masks and a process that makes
  the same calls gets the same draws.

With p = 0 the mask is exactly 1 (u ≥ 0 always, scale 1), so the logits equal the plain model's.
Rewritten models are cached next to the built ones (``<cache>/dropout/``), keyed by the source file
and the settings.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from advengine.errors import ModelError
from advengine.files import atomic_write
from advengine.models.locations import cache_dir

if TYPE_CHECKING:
    import onnx

#: Graph input of the host-drawn uniform noise of ``noise = "input"`` models.
DROPOUT_NOISE = "dropout_u"
Noise = Literal["input", "graph"]
#: Bumped whenever the rewrite changes, so older cached files are not reused.
DROPOUT_VERSION = "1"


def logits_layer(model: onnx.ModelProto, name: str) -> tuple[onnx.NodeProto, str, int]:
    """The final fully connected node (Gemm, or MatMul under a bias Add) that makes the model's
    first output, the features tensor it reads, and the features' width C."""
    from onnx import helper  # deferred, as in add_dropout

    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    node = producer.get(g.output[0].name) if g.output else None
    if node is not None and node.op_type == "Add":
        node = next(
            (producer[i] for i in node.input if i in producer and producer[i].op_type == "MatMul"), None
        )
    weights = {t.name: t for t in g.initializer}
    weight = weights.get(node.input[1]) if node is not None and len(node.input) > 1 else None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute} if node is not None else {}
    if node is None or node.op_type not in ("Gemm", "MatMul") or weight is None or len(weight.dims) != 2:
        raise ModelError(
            f"{name}: dropout needs logits made by a final Gemm or MatMul with constant 2-D weights; "
            "export the model with a plain fully connected head"
        )
    if attrs.get("transA", 0):
        raise ModelError(f"{name}: the final Gemm transposes its features (transA = 1); dropout needs [N, C]")
    width = weight.dims[1] if attrs.get("transB", 0) else weight.dims[0]
    return node, node.input[0], int(width)


def add_dropout(model: onnx.ModelProto, p: float, noise: Noise, *, seed: float = 0.0) -> onnx.ModelProto:
    """A copy of ``model`` with inverted dropout at rate ``p`` on the final layer's input features."""
    if not 0.0 <= p < 1.0:
        raise ModelError(f"dropout rate {p} is outside [0, 1)")
    # Deferred: importing onnx costs about 1 s (its ml_dtypes extension).
    import onnx
    from onnx import helper, numpy_helper

    float32 = onnx.TensorProto.FLOAT
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    node, features, width = logits_layer(out, g.name or "model")
    if noise == "input":
        g.input.append(helper.make_tensor_value_info(DROPOUT_NOISE, float32, ["N", width]))
        u = DROPOUT_NOISE
        added = []
    else:
        u = "dropout/u"
        added = [helper.make_node("RandomUniformLike", [features], [u], name=u, seed=float(seed))]
    g.initializer.extend(
        [
            numpy_helper.from_array(np.array(p, np.float32), "dropout/p"),
            numpy_helper.from_array(np.array(1.0 / (1.0 - p), np.float32), "dropout/scale"),
        ]
    )
    added += [
        helper.make_node("GreaterOrEqual", [u, "dropout/p"], ["dropout/keep"], name="dropout/keep"),
        helper.make_node(
            "Cast", ["dropout/keep"], ["dropout/mask01"], name="dropout/mask01", to=onnx.TensorProto.FLOAT
        ),
        helper.make_node("Mul", ["dropout/mask01", "dropout/scale"], ["dropout/mask"], name="dropout/mask"),
        helper.make_node("Mul", [features, "dropout/mask"], ["dropout/features"], name="dropout/features"),
    ]
    # Nodes stay in topological order: the mask goes right before the layer that reads it.
    at = list(g.node).index(node)
    node.input[0] = "dropout/features"
    nodes = [*g.node[:at], *added, *g.node[at:]]
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(out)
    return out


def dropout_file(source: Path, p: float, noise: Noise, cache_root: Path | None = None) -> Path:
    """The cached dropout variant of the ONNX file ``source`` (written on first use)."""
    stat = source.stat()
    ident = f"{DROPOUT_VERSION}|{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{p!r}|{noise}"
    key = hashlib.sha256(ident.encode()).hexdigest()[:16]
    path = (cache_root or cache_dir()) / "dropout" / f"{source.stem}-{noise}-{key}.onnx"
    if not path.is_file():
        import onnx  # deferred, as in add_dropout

        # A per-file seed (exact in float32: < 2^24) so ensemble members draw independent masks.
        seed = float(int(hashlib.sha256(source.name.encode()).hexdigest()[:6], 16))
        rewritten = add_dropout(onnx.load(str(source)), p, noise, seed=seed)
        atomic_write(path, rewritten.SerializeToString())
    return path


__all__ = ["DROPOUT_NOISE", "Noise", "add_dropout", "dropout_file", "logits_layer"]
