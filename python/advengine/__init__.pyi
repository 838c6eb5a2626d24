# Types of the names advengine/__init__.py loads lazily; tests/core/test_public_api.py checks that
# this stub and the module's __all__ name the same things.
from advengine import attacks as attacks
from advengine import defenses as defenses
from advengine import models as models
from advengine.attacks.objects import AttackObject as AttackObject
from advengine.attacks.objects import Evaluation as Evaluation
from advengine.attacks.objects import attack as attack
from advengine.attacks.objects import evaluate as evaluate
from advengine.defenses.objects import defend as defend
from advengine.errors import AdvEngineError as AdvEngineError
from advengine.models.model import Model as Model

__version__: str

__all__ = [
    "AdvEngineError",
    "AttackObject",
    "Evaluation",
    "Model",
    "__version__",
    "attack",
    "attacks",
    "defend",
    "defenses",
    "evaluate",
    "models",
]
