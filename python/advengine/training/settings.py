"""What a training run is: validated once (one line naming the bad value), stored in every checkpoint,
and compared on ``--resume`` so a continued run is the same run. :class:`RunSettings` holds what every
trainer has (HGD here, the attack FCN in :mod:`advengine.training.fcn_settings`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import Field, model_validator

from advengine.attacks import ATTACKS as ATTACK_REGISTRY
from advengine.errors import ConfigError
from advengine.models import check_models
from advengine.models.dunet import DEFAULT_CHANNELS
from advengine.params import Params, parse_params

#: The training attacks and budgets: FGSM, I-FGSM and MI-FGSM (default iterations) from lite0, lite1
#: and their ensemble, and the attack FCN (its own sources), at ε ∈ {4, 8, 12, 16}. The deployed
#: classifier is never a source.
ATTACKS = ("fgsm", "ifgsm", "mifgsm", "fcn")
SOURCES = ("efficientnet-lite0", "efficientnet-lite1")
EPSILONS = (4, 8, 12, 16)

Channel = Annotated[int, Field(ge=1, le=512)]
S = TypeVar("S", bound="RunSettings")


class RunSettings(Params):
    """What every training run has: its images, the network's width, Adam, the seed, augmentation and
    checkpoints."""

    #: Dataset dir (images/ + dev_dataset.csv) of the training images.
    data: str
    #: The first ``holdout`` images (sorted by ImageId) are never trained on (validation).
    holdout: Annotated[int, Field(ge=0)] = 200
    #: Channels per level of the encoder–decoder (their number is the number of levels).
    channels: Annotated[tuple[Channel, ...], Field(min_length=2, max_length=6)] = DEFAULT_CHANNELS
    batch_size: Annotated[int, Field(ge=1, le=256)] = 8
    #: Adam step size.
    lr: Annotated[float, Field(gt=0, le=1)] = 1e-3
    seed: Annotated[int, Field(ge=0)] = 0
    #: Augmentation: horizontal flip with p = 1/2 and a shift of up to this many pixels per axis
    #: (reflect padding, size kept).
    shift: Annotated[int, Field(ge=0, le=64)] = 16
    checkpoint_every: Annotated[int, Field(ge=1)] = 25

    def fingerprint(self) -> dict[str, Any]:
        """What must match for ``--resume`` (everything; ``steps`` is not a setting, so a resumed run
        may go further)."""
        return self.model_dump(mode="json")


def parse_run_settings(cls: type[S], values: dict[str, Any], owner: str) -> S:
    """``cls`` from untyped values (CLI flags), ``data`` made absolute; a bad value is one error."""
    if "data" in values:
        values = {**values, "data": str(Path(values["data"]).resolve())}
    return parse_params(cls, values, owner)


def needs_sources(attack: str) -> bool:
    """Whether ``attack`` is made from source models (the attack FCN brings its own; an unknown name
    counts as needing them, and is reported by :func:`train_settings`)."""
    try:
        return ATTACK_REGISTRY.get(attack).cls.needs_models
    except ConfigError:  # an unknown attack: train_settings names it
        return True


class TrainSettings(RunSettings):
    """``advengine train hgd``'s settings (every flag), as the run's record."""

    #: The guide: the classifier whose logits the denoised image must reproduce (LGD).
    target: str = "efficientnet-lite2"
    #: The classifier the exported denoiser is put in front of (None: the guide). The denoiser works
    #: at its input side; a cheaper guide trains it for this one (HGD transfers across models).
    deploy: str | None = None
    #: Training crops of this side (the DUNET is fully convolutional), the guide run on the crop at
    #: this side (None: the guide's own input side; a guide at another side must be fully
    #: convolutional with global pooling, like the EfficientNet-Lite zoo).
    crop: Annotated[int | None, Field(ge=8)] = None
    #: Train on the first ``limit`` images after the holdout only (None: all): sizes the attacks.
    limit: Annotated[int | None, Field(ge=1)] = None
    #: Attacks that make the training set (their default parameters).
    attacks: Annotated[tuple[str, ...], Field(min_length=1)] = ATTACKS
    #: Their source models: each alone, and all of them as one ensemble.
    sources: Annotated[tuple[str, ...], Field(min_length=1)] = SOURCES
    #: L∞ budgets in pixels.
    epsilons: Annotated[tuple[Annotated[int, Field(ge=1, le=255)], ...], Field(min_length=1)] = EPSILONS
    #: Adversarial draws per training image, each a random (attack, sources, ε) cell (distinct).
    draws: Annotated[int, Field(ge=1)] = 2
    #: 1e-3 left the default DUNET near the identity after 600 steps (docs/hgd.md, run A); v1's
    #: shipped weights were trained at 5e-3.
    lr: Annotated[float, Field(gt=0, le=1)] = 5e-3
    #: A DUNET (ONNX, as `advengine train hgd` exports it) to start from instead of the identity.
    init: str | None = None
    #: Training images the ``init`` weights had seen (for the record: images seen = this + steps × batch).
    init_images: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _check(self) -> TrainSettings:
        if self.deployed in self.sources:
            who = "the guide" if self.deploy is None else "the deployed classifier"
            flag = "--target (or --deploy)" if self.deploy is None else "--deploy"
            raise ValueError(
                f"{who} {self.deployed} is one of the training attacks' sources "
                f"({', '.join(self.sources)}); it must only meet transfer attacks, pick another {flag}"
            )
        cells = len(self.cells())
        if self.draws > cells:
            raise ValueError(f"draws = {self.draws} is more than the {cells} (attack, sources, ε) cells")
        return self

    @property
    def deployed(self) -> str:
        """The classifier the denoiser is exported for (``deploy``, else the guide)."""
        return self.deploy or self.target

    def source_sets(self) -> list[tuple[str, ...]]:
        """Each source alone, then all of them together (lite0, lite1, lite0+lite1)."""
        sets: list[tuple[str, ...]] = [(m,) for m in self.sources]
        return [*sets, self.sources] if len(self.sources) > 1 else sets

    def cells(self) -> list[tuple[str, tuple[str, ...], int]]:
        """Every (attack, sources, ε), grouped by sources so a source's sessions serve all its cells
        in a row; an attack without source models (the FCN) has one cell per ε, sources ()."""
        with_sources = [a for a in self.attacks if needs_sources(a)]
        out = [(a, s, e) for s in self.source_sets() for a in with_sources for e in self.epsilons]
        return out + [(a, (), e) for a in self.attacks if not needs_sources(a) for e in self.epsilons]


def train_settings(values: dict[str, Any]) -> TrainSettings:
    """Settings from untyped values (CLI flags); a bad one, an unknown model or attack included, is
    one error naming it."""
    settings = parse_run_settings(TrainSettings, values, "train hgd")
    check_models((settings.target,), "train hgd --target")
    if settings.deploy is not None:
        check_models((settings.deploy,), "train hgd --deploy")
    check_models(settings.sources, "train hgd", "source model")
    for name in settings.attacks:
        ATTACK_REGISTRY.get(name)  # an unknown name is one ConfigError listing the attacks
    return settings


__all__ = [
    "ATTACKS",
    "EPSILONS",
    "SOURCES",
    "RunSettings",
    "TrainSettings",
    "needs_sources",
    "parse_run_settings",
    "train_settings",
]
