"""Defenses: each maps a uint8 image batch to TF-Slim labels."""

from advengine.defenses import classifier as _classifier  # noqa: F401  (registers the built-in)
from advengine.defenses import pipeline as _pipeline  # noqa: F401  (registers pipeline and presets)
from advengine.defenses.base import DEFENSES, Defense
from advengine.defenses.objects import defend

#: Plugins register their defenses with these (a class with a ``name``, or a preset of one).
register = DEFENSES.register
register_preset = DEFENSES.register_preset
build_defense = DEFENSES.build

__all__ = ["DEFENSES", "Defense", "build_defense", "defend", "register", "register_preset"]
