"""What an attack-FCN training run is (``advengine train attack-fcn``): validated once, stored in every
checkpoint and compared on ``--resume``, like :mod:`advengine.training.settings` for HGD."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, model_validator

from advengine.models import check_models
from advengine.models.fcn import DEFAULT_CHANNELS
from advengine.params import Params, parse_params

#: The issue's multi-target loss: lite0 and lite1, each behind its own resize; lite2 stays unseen
#: (it measures transfer).
SOURCES = ("efficientnet-lite0", "efficientnet-lite1")
HINT_MODEL = "efficientnet-lite0"

Channel = Annotated[int, Field(ge=1, le=512)]


class FcnSettings(Params):
    """``advengine train attack-fcn``'s settings (every flag), as the run's record."""

    #: Dataset dir (images/ + dev_dataset.csv with true labels).
    data: str
    #: The first ``holdout`` images (sorted by ImageId) are never trained on (validation).
    holdout: Annotated[int, Field(ge=0)] = 200
    #: The models whose summed cross-entropy the FCN raises (each behind its own resize).
    sources: Annotated[tuple[str, ...], Field(min_length=1)] = SOURCES
    #: The model whose input gradient is the hint.
    hint_model: str = HINT_MODEL
    channels: Annotated[tuple[Channel, ...], Field(min_length=2, max_length=6)] = DEFAULT_CHANNELS
    batch_size: Annotated[int, Field(ge=1, le=256)] = 8
    lr: Annotated[float, Field(gt=0, le=1)] = 1e-3
    seed: Annotated[int, Field(ge=0)] = 0
    #: Augmentation: horizontal flip (p = 1/2) and a shift of up to this many pixels per axis.
    shift: Annotated[int, Field(ge=0, le=64)] = 16
    checkpoint_every: Annotated[int, Field(ge=1)] = 25

    @model_validator(mode="after")
    def _check(self) -> FcnSettings:
        if len(set(self.sources)) != len(self.sources):
            raise ValueError(f"sources repeat a model: {', '.join(self.sources)}")
        return self

    def fingerprint(self) -> dict[str, Any]:
        """What must match for ``--resume`` (everything but ``steps``, which is not a setting)."""
        return self.model_dump(mode="json")


def fcn_settings(values: dict[str, Any]) -> FcnSettings:
    """Settings from untyped values (CLI flags); a bad one, an unknown model included, is one error."""
    if "data" in values:
        values = {**values, "data": str(Path(values["data"]).resolve())}
    settings = parse_params(FcnSettings, values, "train attack-fcn")
    check_models(settings.sources, "train attack-fcn", "source model")
    check_models((settings.hint_model,), "train attack-fcn --hint-model")
    return settings


__all__ = ["HINT_MODEL", "SOURCES", "FcnSettings", "fcn_settings"]
