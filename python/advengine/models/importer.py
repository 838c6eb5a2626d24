"""``advengine models import``: wraps any ONNX ImageNet classifier into the zoo contract and registers it.

The wrapper (docs/models.md, "Import your own model"):

* a new input ``input`` float32 ``[N, 3, S, S]`` in [0, 1], followed by the normalisation
  ``(x − mean) / std`` (``imagenet``, ``tf`` = Inception's [−1, 1], ``none`` or your own) and, for
  NHWC models, a Transpose; then the model, its names prefixed with ``model/``;
* its first output flattened from ``[N, K, 1, 1]`` to ``[N, K]``; TF-Slim's 1001-class outputs lose
  the background class; probabilities become log-probabilities (the losses need logits; log-softmax
  of log-probabilities is the same distribution); the result is called ``logits``;
* a fixed batch made symbolic: the input's batch becomes ``N`` and Reshape targets that repeat the
  fixed batch copy it instead; a batch of 2 must then give the same logits as two batches of 1, or the
  import fails saying where the batch stays fixed.

The ONNX file and a manifest (with sha256) go to the user model dir and are registered there.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import compose, helper, numpy_helper, version_converter

from advengine.errors import ModelError, ParameterError
from advengine.files import atomic_write
from advengine.models.locations import user_manifest_dir
from advengine.models.manifest import LABEL_CONVENTION, SCHEMA_VERSION, Manifest, parse_manifest
from advengine.models.onnx_contract import MIN_OPSET, check_onnx_contract
from advengine.models.zoo import list_manifests, register_model

#: A per-channel value for R, G and B.
RGB = tuple[float, float, float]
#: Per-channel (mean, std) of pixels in [0, 1].
NORMALIZATIONS: dict[str, tuple[RGB, RGB]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "tf": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}
#: Label layout -> number of outputs (tfslim1001: index 0 is "background", dropped).
LABELS = {"imagenet1000": 1000, "tfslim1001": 1001}
OUTPUTS = ("logits", "probs")
_OPSET = 18
_PREFIX = "model/"
#: The pixel budget of an import, checked on the declared shape before any array is made: the side
#: of the input (the zoo's largest is 600 px) and the pixels of the probe batch (its fixed batch ×
#: side²; 2**24 float32 × 3 channels = 192 MiB). A model declaring [N, 3, 16000, 16000] used to make
#: a 3 GB probe and run for minutes before it failed.
MAX_SIDE = 2048
MAX_PROBE_PIXELS = 2**24


@dataclass(frozen=True)
class WrapOptions:
    """How a foreign classifier is wrapped into the contract: the options of ``advengine models
    import``, :func:`import_model` and ``Model.from_onnx`` (docs/models.md). Checked when made, so a
    wrong option fails before the (slow) wrapping starts."""

    #: The input normalisation the model expects: ``imagenet`` (torchvision/timm), ``tf``
    #: (Inception's [-1, 1]) or ``none`` ([0, 1]).
    normalization: str = "imagenet"
    #: Own per-channel mean for pixels in [0, 1]; with ``std``, it overrides ``normalization``.
    mean: RGB | None = None
    #: Own per-channel std (positive), given with ``mean``.
    std: RGB | None = None
    #: The native side, for a model whose height and width are symbolic.
    size: int | None = None
    #: ``imagenet1000`` (ILSVRC order) or ``tfslim1001`` (index 0 is background, dropped).
    labels: str = "imagenet1000"
    #: What the model emits: ``logits``, or ``probs`` (turned into log-probabilities).
    output: str = "logits"

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ParameterError(
                f"unknown --normalization {self.normalization!r}; choose one of {', '.join(NORMALIZATIONS)}"
            )
        if (self.mean is None) != (self.std is None):
            raise ParameterError("give --mean and --std together (three values each, for pixels in [0, 1])")
        if self.labels not in LABELS:
            raise ParameterError(f"unknown --labels {self.labels!r}; choose one of {', '.join(LABELS)}")
        if self.output not in OUTPUTS:
            raise ParameterError(f"unknown --output {self.output!r}; choose one of {', '.join(OUTPUTS)}")
        if self.std is not None and any(v <= 0 for v in self.std):
            raise ParameterError(f"--std must be positive, got {list(self.std)}")

    def mean_std(self) -> tuple[RGB, RGB]:
        """The (mean, std) folded into the graph: the own ones, else the normalisation's."""
        if self.mean is None or self.std is None:
            return NORMALIZATIONS[self.normalization]
        return self.mean, self.std


@dataclass
class ImportReport:
    manifest: Manifest
    onnx_path: Path
    sha256: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.manifest.name,
            "onnx": str(self.onnx_path),
            "manifest": str(self.manifest.path),
            "sha256": self.sha256,
            "input_size": self.manifest.input_size,
            "notes": self.notes,
        }


def _load(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise ModelError(f"ONNX file {path} not found; check the path")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError and friends all mean "not an ONNX file"
        raise ModelError(f"{path} is not a readable ONNX model ({type(exc).__name__})") from None


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


#: From IR version 4 on, an initializer need not be a graph input; before, every one was.
_IR_INITIALIZERS_OPTIONAL = 4


def _initializers_out_of_inputs(model: onnx.ModelProto, notes: list[str]) -> None:
    """An IR < 4 graph lists each initializer as a graph input too (old Caffe2 exports); they are
    weights, not inputs, and the wrapper's own initializers would be invalid beside them, so they are
    taken out of the inputs and the IR version raised."""
    if model.ir_version >= _IR_INITIALIZERS_OPTIONAL:
        return
    weights = {i.name for i in model.graph.initializer}
    kept = [i for i in model.graph.input if i.name not in weights]
    dropped = len(model.graph.input) - len(kept)
    if dropped:
        del model.graph.input[:]
        model.graph.input.extend(kept)
    model.ir_version = _IR_INITIALIZERS_OPTIONAL
    notes.append(
        f"IR version upgraded to {_IR_INITIALIZERS_OPTIONAL}"
        + (f" ({dropped} initializers taken out of the graph inputs)" if dropped else "")
    )


def _upgrade(model: onnx.ModelProto, where: Path, notes: list[str]) -> onnx.ModelProto:
    _initializers_out_of_inputs(model, notes)
    version = _opset(model)
    if version >= MIN_OPSET:
        return model
    try:
        upgraded = version_converter.convert_version(model, _OPSET)
    except Exception as exc:  # the converter raises bare RuntimeErrors
        raise ModelError(
            f"{where}: cannot convert opset {version} to {_OPSET} ({' '.join(str(exc).split())[:200]}); "
            f"re-export the model at opset {_OPSET}"
        ) from None
    notes.append(f"opset {version} converted to {_OPSET}")
    return upgraded


def _image_input(model: onnx.ModelProto, where: Path) -> onnx.ValueInfoProto:
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        names = [i.name for i in inputs]
        raise ModelError(f"{where}: expected one image input, found {names}; export it with one input")
    inp: onnx.ValueInfoProto = inputs[0]
    if inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ModelError(f"{where}: input {inp.name!r} is not float32; export the model with a float input")
    if len(inp.type.tensor_type.shape.dim) != 4:
        raise ModelError(f"{where}: input {inp.name!r} is not a 4-D image batch (NCHW or NHWC)")
    return inp


def _layout_and_size(inp: onnx.ValueInfoProto, size: int | None, where: Path) -> tuple[bool, int, int | None]:
    """(channels_last, S, fixed batch or None)."""
    dims = [
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
        for d in inp.type.tensor_type.shape.dim
    ]
    channels_last = dims[1] != 3 and dims[3] == 3
    if not channels_last and dims[1] != 3:
        raise ModelError(f"{where}: input {inp.name!r} has shape {dims}; expected 3 channels (NCHW or NHWC)")
    h, w = (dims[1], dims[2]) if channels_last else (dims[2], dims[3])
    if h is not None and w is not None and h != w:
        raise ModelError(f"{where}: input {inp.name!r} is {h}×{w}; only square inputs are supported")
    fixed = h if h is not None else w
    if fixed is not None:
        if size is not None and size != fixed:
            raise ModelError(
                f"{where}: input {inp.name!r} is fixed at {fixed} px but --size {size} was given"
            )
        size = fixed
    if size is None:
        raise ModelError(f"{where}: input {inp.name!r} has a symbolic size; give --size (e.g. --size 224)")
    if size > MAX_SIDE:
        raise ModelError(
            f"{where}: input {inp.name!r} is {size} px per side, over the import's budget of {MAX_SIDE} px; "
            "export the model at its native image size (the zoo's are 224–600 px)"
        )
    batch = dims[0] or 1
    if batch * size * size > MAX_PROBE_PIXELS:
        raise ModelError(
            f"{where}: input {inp.name!r} has a fixed batch of {batch} at {size} px, "
            f"{batch * size * size} pixels per run, over the import's budget of {MAX_PROBE_PIXELS}; "
            "export the model with a batch of 1 or a symbolic batch"
        )
    return channels_last, size, dims[0]


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _run(model: onnx.ModelProto, x: np.ndarray[Any, Any], where: Path) -> np.ndarray[Any, Any]:
    try:
        sess = _session(model)
        out: np.ndarray[Any, Any] = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    except Exception as exc:  # ORT's own exception classes
        raise ModelError(
            f"{where}: ONNX Runtime cannot run the model at input shape {list(x.shape)} "
            f"({' '.join(str(exc).split())[:300]})"
        ) from None
    return out


def _symbolic_batch(model: onnx.ModelProto, fixed: int) -> int:
    """Reshape targets with a constant leading ``fixed`` copy the batch instead (0); returns how many."""
    consts = {i.name: i for i in model.graph.initializer}
    patched = 0
    for node in model.graph.node:
        if node.op_type != "Reshape" or node.input[1] not in consts:
            continue
        target = numpy_helper.to_array(consts[node.input[1]])
        if target.ndim == 1 and target.size and target[0] == fixed:
            new = target.copy()
            new[0] = 0
            name = f"{node.input[1]}/symbolic_batch_{patched}"
            model.graph.initializer.append(numpy_helper.from_array(new, name))
            node.input[1] = name
            patched += 1
    return patched


def _batch_independent(model: onnx.ModelProto, size: int, where: Path) -> str | None:
    """None if a batch of 2 gives the logits of two batches of 1, else what went wrong."""
    x = np.random.default_rng(0).random((2, 3, size, size), dtype=np.float32)
    try:
        sess = _session(model)
        both = sess.run(["logits"], {"input": x})[0]
        one = np.concatenate([sess.run(["logits"], {"input": x[i : i + 1]})[0] for i in range(2)])
    except Exception as exc:  # ORT's own exception classes
        return " ".join(str(exc).split())[:200]
    if both.shape != one.shape or not np.allclose(both, one, rtol=1e-4, atol=1e-4 * float(np.abs(one).max())):
        return "a batch of 2 does not give the logits of two batches of 1"
    return None


def wrap(model: onnx.ModelProto, where: Path, options: WrapOptions) -> tuple[onnx.ModelProto, int, list[str]]:
    """The wrapped model meeting the classifier contract, its input size, and notes on what changed."""
    mean, std = options.mean_std()
    labels, output = options.labels, options.output
    notes: list[str] = []
    model = _upgrade(model, where, notes)
    inp = _image_input(model, where)
    channels_last, size, fixed = _layout_and_size(inp, options.size, where)
    if len(model.graph.output) > 1:
        notes.append(f"{len(model.graph.output)} outputs: the first, {model.graph.output[0].name!r}, is used")
    probe_shape = (fixed or 1, size, size, 3) if channels_last else (fixed or 1, 3, size, size)
    raw = _run(model, np.random.default_rng(0).random(probe_shape, dtype=np.float32), where)
    classes = LABELS[labels]
    if raw.ndim < 2 or raw.shape[1] != classes or any(d != 1 for d in raw.shape[2:]):
        raise ModelError(
            f"{where}: output {model.graph.output[0].name!r} has shape {list(raw.shape)}; expected "
            f"[N, {classes}] or [N, {classes}, 1, 1] for --labels {labels}"
        )

    inner = compose.add_prefix(model, _PREFIX)
    del inner.graph.value_info[:]  # shapes of the fixed batch would contradict the symbolic one
    inner_input = _PREFIX + inp.name
    inner_output = inner.graph.output[0].name
    consts = [
        numpy_helper.from_array(np.array(mean, np.float32).reshape(1, 3, 1, 1), "wrap/mean"),
        numpy_helper.from_array(np.array(std, np.float32).reshape(1, 3, 1, 1), "wrap/std"),
    ]
    nodes = [
        helper.make_node("Sub", ["input", "wrap/mean"], ["wrap/centred"]),
        helper.make_node("Div", ["wrap/centred", "wrap/std"], ["wrap/normalised"]),
    ]
    if channels_last:
        nodes.append(helper.make_node("Transpose", ["wrap/normalised"], [inner_input], perm=[0, 2, 3, 1]))
        notes.append("NHWC input: transposed from NCHW")
    else:
        nodes.append(helper.make_node("Identity", ["wrap/normalised"], [inner_input]))
    nodes.extend(inner.graph.node)
    last = inner_output
    if raw.ndim > 2:
        nodes.append(helper.make_node("Flatten", [last], ["wrap/flat"], axis=1))
        last = "wrap/flat"
        notes.append(f"output {list(raw.shape)} squeezed to [N, {classes}]")
    if labels == "tfslim1001":
        consts += [
            numpy_helper.from_array(np.array(v, np.int64), f"wrap/{k}")
            for k, v in [("one", [1]), ("end", [1001]), ("axis", [1])]
        ]
        nodes.append(helper.make_node("Slice", [last, "wrap/one", "wrap/end", "wrap/axis"], ["wrap/classes"]))
        last = "wrap/classes"
        notes.append("TF-Slim background class dropped")
    if output == "probs":
        consts.append(numpy_helper.from_array(np.array(1e-30, np.float32), "wrap/tiny"))
        nodes.append(helper.make_node("Max", [last, "wrap/tiny"], ["wrap/positive"]))
        nodes.append(helper.make_node("Log", ["wrap/positive"], ["wrap/log_probs"]))
        last = "wrap/log_probs"
        notes.append("probabilities turned into log-probabilities")
    nodes.append(helper.make_node("Identity", [last], ["logits"]))

    def assemble(batch: int | str) -> onnx.ModelProto:
        f32 = onnx.TensorProto.FLOAT
        graph = helper.make_graph(
            [copy.deepcopy(n) for n in nodes],
            model.graph.name or "imported",
            [helper.make_tensor_value_info("input", f32, [batch, 3, size, size])],
            [helper.make_tensor_value_info("logits", f32, [batch, 1000])],
            initializer=[*consts, *inner.graph.initializer],
        )
        out = helper.make_model(graph, opset_imports=list(model.opset_import))
        # An old model's IR version may predate its converted opset (IR 4 has no opset 18).
        out.ir_version = max(model.ir_version, helper.find_min_ir_version_for(list(model.opset_import)))
        out.functions.extend(inner.functions)
        return out

    wrapped = assemble("N")
    if fixed is not None:
        patched = _symbolic_batch(wrapped, fixed)
        problem = _batch_independent(wrapped, size, where)
        if problem is None:
            notes.append(
                f"fixed batch {fixed} made symbolic"
                + (f" ({patched} Reshape targets patched)" if patched else "")
            )
        else:
            # The batch stays fixed somewhere inside (a Constant shape, say): the model is kept at its
            # batch, and the classifier and attack sources run calls of exactly that many images.
            wrapped = assemble(fixed)
            notes.append(
                f"the batch stays fixed at {fixed} inside the graph ({problem}): kept at {fixed}; larger "
                f"batches run as calls of {fixed} images (re-export with a dynamic batch axis for speed)"
            )
    else:
        problem = _batch_independent(wrapped, size, where)
        if problem is not None:
            raise ModelError(f"{where}: the wrapped model does not run on batches ({problem})")
    try:
        onnx.checker.check_model(wrapped, full_check=True)
    except Exception as exc:  # checker and shape-inference errors
        raise ModelError(
            f"{where}: the wrapped model is invalid ({' '.join(str(exc).split())[:300]})"
        ) from None
    check_onnx_contract(wrapped, size)
    return wrapped, size, notes


@dataclass(frozen=True)
class Wrapped:
    """An imported model in the classifier contract, not yet written anywhere."""

    data: bytes
    input_size: int
    notes: list[str]
    #: What the model was imported from, for its description.
    origin: str
    mean: RGB
    std: RGB
    labels: str
    output: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def description(self) -> str:
        return (
            f"imported from {self.origin} (mean {list(self.mean)}, std {list(self.std)}, "
            f"labels {self.labels}, output {self.output})"
        )


def _load_any(source: str | Path | bytes) -> tuple[onnx.ModelProto, Path]:
    if isinstance(source, bytes | bytearray):
        try:
            return onnx.load_from_string(bytes(source)), Path("<bytes>")
        except Exception as exc:  # protobuf DecodeError and friends all mean "not an ONNX model"
            raise ModelError(
                f"the bytes given are not a readable ONNX model ({type(exc).__name__})"
            ) from None
    src = Path(source).expanduser()
    return _load(src), src


def wrap_source(source: str | Path | bytes, options: WrapOptions | None = None) -> Wrapped:
    """An ONNX file (path) or serialized model (bytes) wrapped into the classifier contract, in memory:
    the work of ``advengine models import`` without writing or registering anything."""
    o = options if options is not None else WrapOptions()
    model, where = _load_any(source)
    wrapped, input_size, notes = wrap(model, where, o)
    m, s = o.mean_std()
    return Wrapped(wrapped.SerializeToString(), input_size, notes, where.name, m, s, o.labels, o.output)


def _manifest(name: str, target: Path, description: str, input_size: int, sha256: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "name": name,
        "description": description,
        "source": {"kind": "onnx-file", "path": str(target), "sha256": sha256},
        "input_size": input_size,
        "labels": {"convention": LABEL_CONVENTION, "classes": 1000},
    }


def _check_free(name: str, force: bool) -> None:
    for existing in list_manifests():
        if existing.name == name and not (force and existing.origin == "registered"):
            hint = (
                "; pass --force to replace it"
                if existing.origin == "registered"
                else "; choose another --name"
            )
            raise ModelError(f"model {name!r} already exists ({existing.path}){hint}")


def register_wrapped(
    wrapped: Wrapped, name: str, *, description: str | None = None, force: bool = False
) -> ImportReport:
    """Write ``wrapped`` as ``NAME.onnx`` with its manifest into the user model dir and register it."""
    target = user_manifest_dir() / f"{name}.onnx"
    manifest = _manifest(name, target, description or wrapped.description(), wrapped.input_size, "0" * 64)
    # The manifest's own checks (the name above all) before anything is written.
    parse_manifest(manifest, target.with_suffix(".json"), "file")
    _check_free(name, force)
    atomic_write(target, wrapped.data)
    manifest["source"]["sha256"] = wrapped.sha256
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / f"{name}.json"
        staged.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        registered = register_model(staged, force=force)
    return ImportReport(registered, target, wrapped.sha256, wrapped.notes)


def memory_manifest(wrapped: Wrapped, cache_root: Path) -> Manifest:
    """``wrapped`` as an unregistered model of this process: its file in ``<cache>/imported/`` (named by
    its digest, so importing the same model twice shares one file) and a manifest that
    :func:`~advengine.models.zoo.add_memory_model` makes known by name until the process ends."""
    digest = wrapped.sha256
    name = f"onnx-{digest[:12]}"
    target = cache_root / "imported" / f"{digest[:16]}.onnx"
    if not target.is_file() or target.stat().st_size != len(wrapped.data):
        atomic_write(target, wrapped.data)
    data = _manifest(name, target, wrapped.description(), wrapped.input_size, digest)
    return parse_manifest(data, target.with_suffix(".json"), "memory")


def import_model(
    path: str | Path,
    name: str,
    options: WrapOptions | None = None,
    *,
    description: str | None = None,
    force: bool = False,
) -> ImportReport:
    """Wrap ``path`` into the classifier contract as ``options`` say (default: imagenet normalisation,
    1000 logits), write ``NAME.onnx`` and its manifest into the user model dir, and register it."""
    o = options if options is not None else WrapOptions()
    target = user_manifest_dir() / f"{name}.onnx"
    # The name's checks before the (slow) wrapping.
    parse_manifest(_manifest(name, target, "-", o.size or 224, "0" * 64), target.with_suffix(".json"), "file")
    _check_free(name, force)
    return register_wrapped(wrap_source(path, o), name, description=description, force=force)


__all__ = [
    "LABELS",
    "NORMALIZATIONS",
    "OUTPUTS",
    "ImportReport",
    "WrapOptions",
    "Wrapped",
    "import_model",
    "memory_manifest",
    "register_wrapped",
    "wrap",
    "wrap_source",
]
