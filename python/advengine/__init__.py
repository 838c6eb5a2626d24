"""advengine: adversarial attack and defense competitions on ONNX image classifiers.

The public Python API is re-exported here (docs/api.md)::

    import advengine
    model = advengine.Model.load("efficientnet-lite0")        # or Model.from_onnx("my.onnx", ...)
    adversarial = advengine.attacks.MIFGSM(model, iterations=10)(images, eps=16)
    adversarial = advengine.attack("mifgsm", model, images, eps=16)
    labels = advengine.defend("median", model, images)
    result = advengine.evaluate(model, "pgd", images, labels, eps=16)

Images are uint8 ``[n, h, w, 3]`` or float ``[n, 3, h, w]`` in [0, 1] of any size (numpy, or anything
with ``__dlpack__``/``__array__``); ε is in pixels (0..255) for uint8 images and in [0, 1] for float
images. ``advengine._core`` (the Rust extension) is private.

The names are loaded on first use, so ``import advengine`` (and the CLI's start-up) stays cheap;
``__init__.pyi`` gives type checkers their types (an import here, even under TYPE_CHECKING, would make
every low layer that imports ``advengine._core`` reach the top layers in import-linter's graph).
"""

from __future__ import annotations

import importlib
from typing import Any

from advengine._core import __version__
from advengine.errors import AdvEngineError
from advengine.runtime import check_onnxruntime

# Fails at once, with the pip command that fixes it, when no ONNX Runtime or two are installed.
check_onnxruntime()

#: Public name -> the module that defines it (imported on first access, PEP 562).
_LAZY = {
    "Model": "advengine.models.model",
    "AttackObject": "advengine.attacks.objects",
    "Evaluation": "advengine.attacks.objects",
    "attack": "advengine.attacks.objects",
    "evaluate": "advengine.attacks.objects",
    "defend": "advengine.defenses.objects",
}
_SUBMODULES = ("attacks", "defenses", "models")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"advengine.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'advengine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBMODULES])


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
