"""Model manifests: one JSON file per model, validated into a :class:`Manifest`.

Two kinds of source are accepted:

* ``"pytorch-state-dict"``: a weight file inside an installed Python package (the bundled zoo); the
  ONNX graph is built by advengine from an ``architecture`` it knows.
* ``"onnx-file"``: a ready ONNX classifier (a user's own model); ``path`` is relative to the manifest
  or absolute, and the file must follow the classifier contract (docs/architecture.md).

Every problem is reported as one line naming the file, the field and what would fix it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from advengine.errors import ModelError

SCHEMA_VERSION = 1
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
#: Output index k of a 1000-class model is TF-Slim label k + 1 (the only convention the contract allows).
LABEL_CONVENTION = "tf-slim-index-plus-1"
SOURCE_KINDS = ("pytorch-state-dict", "onnx-file")
ARCHITECTURES = ("efficientnet-lite",)
_TOP_FIELDS = {
    "schema",
    "name",
    "description",
    "source",
    "architecture",
    "input_size",
    "normalisation",
    "labels",
    "reference_accuracy",
    "license",
}


@dataclass(frozen=True)
class Normalisation:
    """``(x·scale − mean[c]) / std[c]`` for x in [0, 1]; applied inside the built graph."""

    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True)
class ReferenceAccuracy:
    top1: float
    images: int
    dataset: str
    note: str


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. ``raw`` is the parsed JSON, used for the build cache key."""

    name: str
    path: Path
    origin: str
    description: str
    source_kind: str
    sha256: str
    input_size: int
    license: str
    reference_accuracy: tuple[ReferenceAccuracy, ...]
    raw: dict[str, Any]
    #: pytorch-state-dict only
    package: str | None = None
    package_version: str | None = None
    module: str | None = None
    weight_file: str | None = None
    architecture: dict[str, Any] | None = None
    normalisation: Normalisation | None = None
    #: onnx-file only: absolute path of the ONNX file
    onnx_path: Path | None = None

    @property
    def builds_onnx(self) -> bool:
        return self.source_kind == "pytorch-state-dict"


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Fields:
    """Typed access to one JSON object with one-line errors that name file and field."""

    def __init__(self, data: Any, where: str, path: Path) -> None:
        if not isinstance(data, dict):
            raise ModelError(f"{path}: {where or 'the manifest'} must be a JSON object")
        self.data: dict[str, Any] = data
        self.where = where
        self.path = path

    def _fail(self, key: str, want: str) -> ModelError:
        field = f"{self.where}.{key}" if self.where else key
        got = self.data.get(key, None)
        shown = "missing" if key not in self.data else f"got {json.dumps(got)[:60]}"
        return ModelError(f"{self.path}: field '{field}' must be {want} ({shown})")

    def text(
        self, key: str, *, pattern: re.Pattern[str] | None = None, want: str = "a non-empty string"
    ) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value.strip() or (pattern and not pattern.match(value)):
            raise self._fail(key, want)
        return value

    def opt_text(self, key: str, default: str = "") -> str:
        return self.text(key) if key in self.data else default

    def number(self, key: str, *, positive: bool = True) -> float:
        value = self.data.get(key)
        if not _is_number(value) or (positive and value <= 0):
            raise self._fail(key, "a positive number" if positive else "a number")
        return float(value)

    def integer(self, key: str, *, low: int, high: int) -> int:
        value = self.data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self._fail(key, f"an integer in {low}..{high}")
        return value

    def triple(self, key: str, *, positive: bool) -> tuple[float, float, float]:
        value = self.data.get(key)
        if not isinstance(value, list) or len(value) != 3 or not all(_is_number(v) for v in value):
            raise self._fail(key, "a list of 3 " + ("positive numbers" if positive else "numbers"))
        if positive and not all(v > 0 for v in value):
            raise self._fail(key, "a list of 3 positive numbers")
        return (float(value[0]), float(value[1]), float(value[2]))

    def obj(self, key: str) -> _Fields:
        if key not in self.data:
            raise self._fail(key, "an object")
        return _Fields(self.data[key], f"{self.where}.{key}" if self.where else key, self.path)

    def only(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.data) - allowed)
        if unknown:
            where = f" in '{self.where}'" if self.where else ""
            raise ModelError(
                f"{self.path}: unknown field '{unknown[0]}'{where}; allowed: {', '.join(sorted(allowed))}"
            )


def _normalisation(f: _Fields) -> Normalisation:
    f.only({"formula", "scale", "mean", "std"})
    return Normalisation(f.number("scale"), f.triple("mean", positive=False), f.triple("std", positive=True))


def _reference(f: _Fields) -> ReferenceAccuracy:
    f.only({"top1", "images", "dataset", "note"})
    top1 = f.number("top1")
    if top1 > 1:
        raise ModelError(f"{f.path}: field '{f.where}.top1' must be a fraction in (0, 1], got {top1}")
    images = f.integer("images", low=1, high=10**8)
    return ReferenceAccuracy(top1, images, f.text("dataset"), f.opt_text("note"))


def _architecture(f: _Fields) -> dict[str, Any]:
    f.only({"family", "width_coefficient", "depth_coefficient"})
    family = f.text("family")
    if family not in ARCHITECTURES:
        raise ModelError(
            f"{f.path}: field '{f.where}.family' must be one of {', '.join(ARCHITECTURES)} (got {family!r})"
        )
    return {
        "family": family,
        "width_coefficient": f.number("width_coefficient"),
        "depth_coefficient": f.number("depth_coefficient"),
    }


def parse_manifest(data: Any, path: Path, origin: str) -> Manifest:
    """Validate parsed JSON; ``path`` is where it came from (relative ONNX paths resolve against it)."""
    top = _Fields(data, "", path)
    top.only(_TOP_FIELDS)
    schema = top.integer("schema", low=1, high=10**6)
    if schema != SCHEMA_VERSION:
        raise ModelError(
            f"{path}: manifest schema {schema} is not supported (this advengine reads {SCHEMA_VERSION})"
        )
    name = top.text("name", pattern=NAME_RE, want="a lowercase name of letters, digits, '.', '_' or '-'")
    labels = top.obj("labels")
    labels.only({"convention", "classes", "note"})
    convention = labels.text("convention")
    if convention != LABEL_CONVENTION:
        raise ModelError(
            f"{path}: field 'labels.convention' must be {LABEL_CONVENTION!r} (output index k is TF-Slim "
            f"label k + 1), got {convention!r}"
        )
    if labels.integer("classes", low=1, high=10**6) != 1000:
        raise ModelError(f"{path}: field 'labels.classes' must be 1000: classifiers emit [N, 1000] logits")
    refs = top.data.get("reference_accuracy", [])
    if not isinstance(refs, list):
        raise ModelError(f"{path}: field 'reference_accuracy' must be a list of objects")
    reference = tuple(_reference(_Fields(r, f"reference_accuracy[{i}]", path)) for i, r in enumerate(refs))
    source = top.obj("source")
    kind = source.text("kind")
    common: dict[str, Any] = {
        "name": name,
        "path": path,
        "origin": origin,
        "description": top.opt_text("description"),
        "source_kind": kind,
        "input_size": top.integer("input_size", low=8, high=4096),
        "license": top.opt_text("license", "unspecified"),
        "reference_accuracy": reference,
        "raw": data,
    }
    sha_want = "64 lowercase hex digits (run `sha256sum FILE`)"
    if kind == "pytorch-state-dict":
        source.only({"kind", "package", "version", "module", "weight_file", "sha256"})
        return Manifest(
            sha256=source.text("sha256", pattern=SHA256_RE, want=sha_want),
            package=source.text("package"),
            package_version=source.text("version"),
            module=source.text(
                "module", pattern=re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$"), want="a module name"
            ),
            weight_file=source.text("weight_file"),
            architecture=_architecture(top.obj("architecture")),
            normalisation=_normalisation(top.obj("normalisation")),
            **common,
        )
    if kind == "onnx-file":
        source.only({"kind", "path", "sha256"})
        onnx_path = Path(source.text("path")).expanduser()
        if not onnx_path.is_absolute():
            onnx_path = path.parent / onnx_path
        if "architecture" in top.data or "normalisation" in top.data:
            raise ModelError(
                f"{path}: an onnx-file model takes no 'architecture' or 'normalisation' (they are inside "
                "the ONNX "
                "graph: input in [0, 1])"
            )
        return Manifest(
            sha256=source.text("sha256", pattern=SHA256_RE, want=sha_want),
            onnx_path=onnx_path.resolve(),
            **common,
        )
    raise ModelError(f"{path}: field 'source.kind' must be one of {', '.join(SOURCE_KINDS)} (got {kind!r})")


def read_manifest(path: str | Path, origin: str = "file") -> Manifest:
    """Read and validate one manifest file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"manifest {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read manifest {p}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return parse_manifest(data, p, origin)


__all__ = [
    "LABEL_CONVENTION",
    "SCHEMA_VERSION",
    "Manifest",
    "Normalisation",
    "ReferenceAccuracy",
    "parse_manifest",
    "read_manifest",
]
