"""Model manifests: one JSON file per model, validated into a :class:`Manifest`.

Three kinds of source are accepted:

* ``"pytorch-state-dict"``: a weight file inside an installed Python package (the bundled zoo); the
  ONNX graph is built by advengine from an ``architecture`` it knows.
* ``"onnx-file"``: a ready ONNX classifier (a user's own model); ``path`` is relative to the manifest
  or absolute, and the file must follow the classifier contract (docs/architecture.md).
* ``"denoised"``: a denoiser ONNX file (``denoiser``, relative to the manifest, with its ``sha256``)
  in front of another model of the zoo (``classifier``), composed into one classifier graph when the
  model is first used (the shipped ``hgd`` defense, docs/hgd.md).

Every problem is reported as one line naming the file, the field and what would fix it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, Field, StrictFloat, ValidationError, field_validator
from pydantic import Strict as StrictMode

from advengine.errors import ModelError
from advengine.validation import Strict, explain, phrased

SCHEMA_VERSION = 1
#: Output index k of a 1000-class model is TF-Slim label k + 1 (the only convention the contract allows).
LABEL_CONVENTION = "tf-slim-index-plus-1"
SOURCE_KINDS = ("pytorch-state-dict", "onnx-file", "denoised")
ARCHITECTURES = ("efficientnet-lite",)

Text = Annotated[str, StrictMode(), Field(pattern=r"\S"), phrased("a non-empty string")]
Sha256 = Annotated[
    str,
    StrictMode(),
    Field(pattern=r"^[0-9a-f]{64}$"),
    phrased("64 lowercase hex digits (run `sha256sum FILE`)"),
]
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
PositiveNumber = Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False), phrased("a positive number")]
Triple = Annotated[tuple[Number, Number, Number], phrased("a list of 3 numbers")]
PositiveTriple = Annotated[
    tuple[PositiveNumber, PositiveNumber, PositiveNumber], phrased("a list of 3 positive numbers")
]
InputSize = Annotated[int, StrictMode(), Field(ge=8, le=4096), phrased("an integer in 8..4096")]
ImageCount = Annotated[int, StrictMode(), Field(ge=1, le=10**8), phrased("an integer in 1..100000000")]


class Normalisation(Strict):
    """``(x·scale − mean[c]) / std[c]`` for x in [0, 1]; applied inside the built graph."""

    formula: str = ""
    scale: PositiveNumber
    mean: Triple
    std: PositiveTriple


class ReferenceAccuracy(Strict):
    top1: Annotated[StrictFloat, Field(gt=0, le=1, allow_inf_nan=False), phrased("a fraction in (0, 1]")]
    images: ImageCount
    dataset: Text
    note: str = ""


class Labels(Strict):
    convention: Annotated[
        Literal["tf-slim-index-plus-1"],
        phrased(f"{LABEL_CONVENTION!r} (output index k is TF-Slim label k + 1)"),
    ]
    classes: Annotated[Literal[1000], phrased("1000: classifiers emit [N, 1000] logits")]
    note: str = ""


class Architecture(Strict):
    family: Literal["efficientnet-lite"]
    width_coefficient: PositiveNumber
    depth_coefficient: PositiveNumber


class StateDictSource(Strict):
    """A weight file inside an installed Python package (the bundled zoo)."""

    kind: Literal["pytorch-state-dict"]
    package: Text
    version: Text
    module: Annotated[str, StrictMode(), Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"), phrased("a module name")]
    weight_file: Text
    sha256: Sha256


class OnnxSource(Strict):
    """A ready ONNX classifier; ``path`` is relative to the manifest or absolute."""

    kind: Literal["onnx-file"]
    path: Text
    sha256: Sha256


class DenoisedSource(Strict):
    """A denoiser ONNX file (``input`` → ``denoised``, same shape) in front of zoo model ``classifier``."""

    kind: Literal["denoised"]
    classifier: Text
    denoiser: Text
    sha256: Sha256


class _SourceKind(BaseModel):
    kind: Literal["pytorch-state-dict", "onnx-file", "denoised"]


class ManifestFile(Strict):
    """A manifest as written (``models/manifests/*.json``)."""

    schema_: Annotated[int, Field(alias="schema"), StrictMode(), phrased("an integer")]
    name: Annotated[
        str,
        StrictMode(),
        Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$"),
        phrased("a lowercase name of letters, digits, '.', '_' or '-'"),
    ]
    description: str = ""
    labels: Labels
    reference_accuracy: Annotated[list[ReferenceAccuracy], phrased("a list of objects")] = Field(
        default_factory=list
    )
    #: Checked by kind (:class:`StateDictSource` or :class:`OnnxSource`) once the kind is known.
    source: Annotated[dict[str, Any], phrased("an object")]
    architecture: Architecture | None = None
    input_size: InputSize
    #: Written ``normalization`` (the one spelling of the CLI, the Python API and the docs); the older
    #: ``normalisation`` of the bundled manifests is read too.
    normalisation: Annotated[
        Normalisation | None, Field(validation_alias=AliasChoices("normalization", "normalisation"))
    ] = None
    license: str = "unspecified"

    @field_validator("schema_")
    @classmethod
    def _supported(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(
                f"manifest schema {value} is not supported (this advengine reads {SCHEMA_VERSION})"
            )
        return value


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
    #: onnx-file: absolute path of the ONNX file; denoised: of the denoiser's ONNX file
    onnx_path: Path | None = None
    #: denoised only: the zoo model behind the denoiser
    classifier: str | None = None

    @property
    def builds_onnx(self) -> bool:
        """advengine writes this model's ONNX file into the build cache (else it is the user's file)."""
        return self.source_kind in ("pytorch-state-dict", "denoised")


def _validate(model: type[Any], data: Any, path: Path, prefix: tuple[str, ...] = ()) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise explain(exc, str(path), prefix=prefix, error=ModelError) from None


def parse_manifest(data: Any, path: Path, origin: str) -> Manifest:
    """Validate parsed JSON; ``path`` is where it came from (relative ONNX paths resolve against it)."""
    if not isinstance(data, dict):
        raise ModelError(f"{path}: the manifest must be a JSON object")
    f: ManifestFile = _validate(ManifestFile, data, path)
    kind = _validate(_SourceKind, f.source, path, ("source",)).kind
    common: dict[str, Any] = {
        "name": f.name,
        "path": path,
        "origin": origin,
        "description": f.description,
        "source_kind": kind,
        "input_size": f.input_size,
        "license": f.license,
        "reference_accuracy": tuple(f.reference_accuracy),
        "raw": data,
    }
    if kind == "pytorch-state-dict":
        src: StateDictSource = _validate(StateDictSource, f.source, path, ("source",))
        for key, spelled in (("architecture", "architecture"), ("normalisation", "normalization")):
            if getattr(f, key) is None:
                raise ModelError(f"{path}: missing field {spelled!r} (a pytorch-state-dict model needs it)")
        assert f.architecture is not None
        return Manifest(
            sha256=src.sha256,
            package=src.package,
            package_version=src.version,
            module=src.module,
            weight_file=src.weight_file,
            architecture=f.architecture.model_dump(),
            normalisation=f.normalisation,
            **common,
        )
    if f.architecture is not None or f.normalisation is not None:
        raise ModelError(
            f"{path}: {'an onnx-file' if kind == 'onnx-file' else 'a denoised'} model takes no "
            "'architecture' or 'normalization' (they are inside "
            "the ONNX graph: input in [0, 1])"
        )
    if kind == "denoised":
        den: DenoisedSource = _validate(DenoisedSource, f.source, path, ("source",))
        return Manifest(
            sha256=den.sha256,
            onnx_path=_resolve(den.denoiser, path),
            classifier=den.classifier,
            **common,
        )
    onnx: OnnxSource = _validate(OnnxSource, f.source, path, ("source",))
    return Manifest(sha256=onnx.sha256, onnx_path=_resolve(onnx.path, path), **common)


def _resolve(file: str, manifest: Path) -> Path:
    """A file named by a manifest: absolute, or relative to the manifest's directory."""
    p = Path(file).expanduser()
    return (p if p.is_absolute() else manifest.parent / p).resolve()


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
    "SOURCE_KINDS",
    "Manifest",
    "ManifestFile",
    "Normalisation",
    "ReferenceAccuracy",
    "parse_manifest",
    "read_manifest",
]
