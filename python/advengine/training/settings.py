"""What an HGD training run is: validated once (one line naming the bad value), stored in every
checkpoint, and compared on ``--resume`` so a continued run is the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, model_validator

from advengine.attacks import ATTACKS as ATTACK_REGISTRY
from advengine.models import check_models
from advengine.models.dunet import DEFAULT_CHANNELS
from advengine.params import Params, parse_params

#: The issue's training attacks and budgets: FGSM, I-FGSM and MI-FGSM (default iterations) from
#: lite0, lite1 and their ensemble, at ε ∈ {4, 8, 12, 16}. The guide is never a source.
ATTACKS = ("fgsm", "ifgsm", "mifgsm")
SOURCES = ("efficientnet-lite0", "efficientnet-lite1")
EPSILONS = (4, 8, 12, 16)

Channel = Annotated[int, Field(ge=1, le=512)]


class TrainSettings(Params):
    """``advengine train hgd``'s settings (every flag), as the run's record."""

    #: The guide: the classifier whose logits the denoised image must reproduce (LGD).
    target: str = "efficientnet-lite2"
    #: Dataset dir (images/ + dev_dataset.csv) whose images are attacked to make the training set.
    data: str
    #: The first ``holdout`` images (sorted by ImageId) are never trained on (validation).
    holdout: Annotated[int, Field(ge=0)] = 200
    #: Attacks that make the training set (their default parameters).
    attacks: Annotated[tuple[str, ...], Field(min_length=1)] = ATTACKS
    #: Their source models: each alone, and all of them as one ensemble.
    sources: Annotated[tuple[str, ...], Field(min_length=1)] = SOURCES
    #: L∞ budgets in pixels.
    epsilons: Annotated[tuple[Annotated[int, Field(ge=1, le=255)], ...], Field(min_length=1)] = EPSILONS
    #: Adversarial draws per training image, each a random (attack, sources, ε) cell (distinct).
    draws: Annotated[int, Field(ge=1)] = 2
    #: Denoiser channels per level (their number is the number of levels).
    channels: Annotated[tuple[Channel, ...], Field(min_length=2, max_length=6)] = DEFAULT_CHANNELS
    batch: Annotated[int, Field(ge=1, le=256)] = 8
    #: Adam step size. 1e-3 left the default DUNET near the identity after 600 steps (docs/hgd.md, run A);
    #: the shipped weights were trained at 5e-3.
    lr: Annotated[float, Field(gt=0, le=1)] = 5e-3
    seed: Annotated[int, Field(ge=0)] = 0
    #: Augmentation: horizontal flip with p = 1/2 and a shift of up to this many pixels per axis
    #: (reflect padding, size kept), the same for an adversarial image and its clean target.
    shift: Annotated[int, Field(ge=0, le=64)] = 16
    checkpoint_every: Annotated[int, Field(ge=1)] = 25

    @model_validator(mode="after")
    def _check(self) -> TrainSettings:
        if self.target in self.sources:
            raise ValueError(
                f"the guide {self.target} is one of the training attacks' sources "
                f"({', '.join(self.sources)}); the guide is never attacked directly, pick another --target"
            )
        cells = len(self.attacks) * len(self.source_sets()) * len(self.epsilons)
        if self.draws > cells:
            raise ValueError(f"draws = {self.draws} is more than the {cells} (attack, sources, ε) cells")
        return self

    def source_sets(self) -> list[tuple[str, ...]]:
        """Each source alone, then all of them together (lite0, lite1, lite0+lite1)."""
        sets: list[tuple[str, ...]] = [(m,) for m in self.sources]
        return [*sets, self.sources] if len(self.sources) > 1 else sets

    def fingerprint(self) -> dict[str, Any]:
        """What must match for ``--resume`` (everything; ``steps`` is not a setting, so a resumed run
        may go further)."""
        return self.model_dump(mode="json")


def train_settings(values: dict[str, Any]) -> TrainSettings:
    """Settings from untyped values (CLI flags); a bad one, an unknown model or attack included, is
    one error naming it."""
    if "data" in values:
        values = {**values, "data": str(Path(values["data"]).resolve())}
    settings = parse_params(TrainSettings, values, "train hgd")
    check_models((settings.target,), "train hgd --target")
    check_models(settings.sources, "train hgd", "source model")
    for name in settings.attacks:
        ATTACK_REGISTRY.get(name)  # an unknown name is one ConfigError listing the attacks
    return settings


__all__ = ["ATTACKS", "EPSILONS", "SOURCES", "TrainSettings", "train_settings"]
