"""Defenses: each maps a uint8 image batch to TF-Slim labels."""

from advengine.defenses import classifier as _classifier  # noqa: F401  (registers the built-in)
from advengine.defenses import pipeline as _pipeline  # noqa: F401  (registers pipeline and presets)
from advengine.defenses.base import Defense
from advengine.defenses.registry import (
    build_defense,
    defense_component,
    defense_names,
    register,
    register_preset,
)

__all__ = [
    "Defense",
    "build_defense",
    "defense_component",
    "defense_names",
    "register",
    "register_preset",
]
