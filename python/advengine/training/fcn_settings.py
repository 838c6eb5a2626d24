"""What an attack-FCN training run is (``advengine train attack-fcn``): the shared
:class:`~advengine.training.settings.RunSettings` plus the FCN's source and hint models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from advengine.models import check_models
from advengine.training.settings import RunSettings, parse_run_settings

#: The issue's multi-target loss: lite0 and lite1, each behind its own resize; lite2 stays unseen
#: (it measures transfer).
SOURCES = ("efficientnet-lite0", "efficientnet-lite1")
HINT_MODEL = "efficientnet-lite0"


class FcnSettings(RunSettings):
    """``advengine train attack-fcn``'s settings (every flag), as the run's record."""

    #: The models whose summed cross-entropy the FCN raises (each behind its own resize).
    sources: Annotated[tuple[str, ...], Field(min_length=1)] = SOURCES
    #: The model whose input gradient is the hint.
    hint_model: str = HINT_MODEL

    @model_validator(mode="after")
    def _check(self) -> FcnSettings:
        if len(set(self.sources)) != len(self.sources):
            raise ValueError(f"sources repeat a model: {', '.join(self.sources)}")
        return self


def fcn_settings(values: dict[str, Any]) -> FcnSettings:
    """Settings from untyped values (CLI flags); a bad one, an unknown model included, is one error."""
    settings = parse_run_settings(FcnSettings, values, "train attack-fcn")
    check_models(settings.sources, "train attack-fcn", "source model")
    check_models((settings.hint_model,), "train attack-fcn --hint-model")
    return settings


__all__ = ["HINT_MODEL", "SOURCES", "FcnSettings", "fcn_settings"]
