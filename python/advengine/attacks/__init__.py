"""Attacks: each maps clean uint8 images to adversarial ones within an integer L∞ budget."""

from advengine.attacks import adaptive as _adaptive  # noqa: F401  (registers the built-ins)
from advengine.attacks import apgd as _apgd  # noqa: F401
from advengine.attacks import autoattack as _autoattack  # noqa: F401
from advengine.attacks import baselines as _baselines  # noqa: F401
from advengine.attacks import ensemble_eot as _ensemble_eot  # noqa: F401
from advengine.attacks import fcn as _fcn  # noqa: F401
from advengine.attacks import gradient as _gradient  # noqa: F401
from advengine.attacks import square as _square  # noqa: F401
from advengine.attacks import transfer as _transfer  # noqa: F401
from advengine.attacks.base import ATTACKS, Attack, Track
from advengine.attacks.classes import *  # noqa: F403  (one class per entry, advengine.attacks.MIFGSM)
from advengine.attacks.classes import __all__ as _classes
from advengine.attacks.objects import AttackObject, Evaluation, attack, evaluate
from advengine.data.images import from_model_output, to_model_input

#: Plugins register their attacks with these (a class with a ``name``, or a preset of one).
register = ATTACKS.register
register_preset = ATTACKS.register_preset
build_attack = ATTACKS.build

__all__ = [
    "ATTACKS",
    "Attack",
    "AttackObject",
    "Evaluation",
    "Track",
    "attack",
    "build_attack",
    "evaluate",
    "from_model_output",
    "register",
    "register_preset",
    "to_model_input",
    *_classes,
]
