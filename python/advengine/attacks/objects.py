"""Attacks as objects built from the model, for library users (torchattacks' and foolbox's shape):

    >>> attack = MIFGSM(model, iterations=10)      # advengine.attacks.MIFGSM, one class per entry
    >>> adversarial = attack(images, eps=16)

and the one-liners :func:`attack` and :func:`evaluate`. Images are uint8 ``[n, h, w, 3]`` or float
``[n, 3, h, w]`` in [0, 1] of any size, numpy or anything with ``__dlpack__``/``__array__``; results
come back in the input's layout, dtype and array type. ε is in pixels (0..255) for uint8 images and in
[0, 1] for float images.

The registered attacks work on the competition's 299×299 inputs (each source model resizes to its own
size inside the gradient graph). Other sizes are resized bilinearly to 299, attacked there, and the
perturbation is resized back and projected onto the ε ball of the original images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from advengine.attacks.base import ATTACKS, Attack
from advengine.attacks.sources import IMAGE_SIDE, MAX_GRAPH_BATCH
from advengine.context import RunContext
from advengine.data.arrays import as_batch, to_numpy
from advengine.data.checks import check_labels
from advengine.errors import ParameterError
from advengine.models.model import Model
from advengine.models.resize import resize_bilinear

#: A model given to an attack: a :class:`~advengine.models.model.Model` or a model name.
ModelLike = Model | str
#: One model or several (an ensemble), or None for the attack's default roster.
Models = ModelLike | Sequence[ModelLike] | None

F32 = npt.NDArray[np.float32]


def model_names(models: Models) -> tuple[str, ...]:
    """The names behind ``models`` (a Model, a name, a sequence of either, or None for none)."""
    if models is None:
        return ()
    if isinstance(models, Model | str):
        return (models if isinstance(models, str) else models.name,)
    return tuple(m if isinstance(m, str) else m.name for m in models)


def _context(models: Models, context: RunContext | None) -> RunContext:
    if context is not None:
        return context
    first = models if isinstance(models, Model) else None
    if (
        isinstance(models, Sequence)
        and not isinstance(models, str)
        and models
        and isinstance(models[0], Model)
    ):
        first = models[0]
    return first.context if first is not None else RunContext.from_env()


def _perturb(
    attack: Attack[Any], x: F32, eps: float, targets: npt.NDArray[np.int64] | None, seed: int
) -> F32:
    """The attack's float result for ``x`` at any size: run at 299, the perturbation brought back."""
    h, w = int(x.shape[2]), int(x.shape[3])
    same = (h, w) == (IMAGE_SIDE, IMAGE_SIDE)
    x_in = x if same else resize_bilinear(x, IMAGE_SIDE)
    adv = np.asarray(attack.run(x_in, eps, targets, np.random.default_rng(seed)), np.float32)
    delta = adv - x_in
    if not same:
        delta = resize_bilinear(np.ascontiguousarray(delta), (h, w))
    out: F32 = np.clip(x + np.clip(delta, -eps, eps), 0.0, 1.0).astype(np.float32)
    return out


def run_attack_on(
    attack: Attack[Any],
    images: Any,
    *,
    eps: float,
    target_classes: Any = None,
    seed: int = 0,
    batch_size: int = MAX_GRAPH_BATCH,
) -> Any:
    """Adversarial ``images`` from a built attack; see the module docstring for arrays and ε."""
    batch = as_batch(images)
    e = batch.eps(eps)
    n = len(batch.x)
    targets = None
    if attack.track == "targeted":
        if target_classes is None:
            raise ParameterError(
                f"{attack.name} is a targeted attack: give target_classes (TF-Slim labels 1..1000)"
            )
        targets = check_labels(to_numpy(target_classes).reshape(-1), n, "target_classes")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
    parts = [
        _perturb(
            attack,
            batch.x[i : i + batch_size],
            e,
            None if targets is None else targets[i : i + batch_size],
            seed + i,
        )
        for i in range(0, n, batch_size)
    ]
    out = np.concatenate(parts) if parts else batch.x.copy()
    return batch.restore(out, eps)


#: What a generated class's ``locals()`` holds besides its parameters: ``__class__`` is there
#: because its ``__init__`` calls ``super()``.
_NOT_PARAMS = frozenset({"self", "__class__", "model_or_models", "context"})


def params_of(arguments: dict[str, Any]) -> dict[str, Any]:
    """The parameter keywords among a generated class's ``__init__`` arguments (its ``locals()``
    before anything else is assigned): every argument but ``self``, the models and the context."""
    return {k: v for k, v in arguments.items() if k not in _NOT_PARAMS}


class AttackObject:
    """One registered attack built for its models; call it on images.

    The subclasses in :mod:`advengine.attacks` (``MIFGSM``, ``PGD``, ``APGDCE``, …) are generated from
    the registry, one per entry, with that entry's parameters as typed keywords.
    """

    #: The registered name this class builds.
    entry: ClassVar[str] = ""

    def __init__(
        self, model_or_models: Models = None, *, context: RunContext | None = None, **params: Any
    ) -> None:
        self.models = model_names(model_or_models)
        self.context = _context(model_or_models, context)
        self.attack: Attack[Any] = ATTACKS.build(self.entry, params, self.models, self.context)

    @property
    def track(self) -> str:
        """``nontargeted`` or ``targeted`` (then calls need ``target_classes``)."""
        return self.attack.track

    def __call__(self, images: Any, *, eps: float, target_classes: Any = None, seed: int = 0) -> Any:
        """Adversarial images within ``eps`` of ``images`` (pixels 0..255 for uint8, [0, 1] for float),
        in the input's layout, dtype and array type."""
        return run_attack_on(self.attack, images, eps=eps, target_classes=target_classes, seed=seed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.attack!r})"


def attack(
    name: str,
    model: Models,
    images: Any,
    *,
    eps: float,
    target_classes: Any = None,
    seed: int = 0,
    context: RunContext | None = None,
    **params: Any,
) -> Any:
    """The one-liner: ``advengine.attack("mifgsm", model, images, eps=16, iterations=5)``.

    ``name`` is any registered attack (``advengine list``); ``params`` are its parameters. ε is in
    pixels (0..255) for uint8 images and in [0, 1] for float images."""
    built = ATTACKS.build(name, params, model_names(model), _context(model, context))
    return run_attack_on(built, images, eps=eps, target_classes=target_classes, seed=seed)


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` measured: clean and robust accuracy and each image's labels."""

    #: Share of the clean images the model labels correctly.
    accuracy: float
    #: Share of the adversarial images the model still labels correctly.
    robust_accuracy: float
    #: The true labels given (TF-Slim 1..1000).
    labels: npt.NDArray[np.int64]
    #: The model's label of each clean image.
    clean_predictions: npt.NDArray[np.int64]
    #: The model's label of each adversarial image.
    adversarial_predictions: npt.NDArray[np.int64]
    #: The adversarial images, in the input's layout and dtype.
    adversarial: Any

    def per_image(self) -> list[dict[str, Any]]:
        """One row per image: true label, clean and adversarial prediction, and whether each is right."""
        return [
            {
                "index": i,
                "label": int(y),
                "clean": int(c),
                "adversarial": int(a),
                "correct": bool(c == y),
                "robust": bool(a == y),
            }
            for i, (y, c, a) in enumerate(
                zip(self.labels, self.clean_predictions, self.adversarial_predictions, strict=True)
            )
        ]


def evaluate(
    model: Model,
    attack: AttackObject | str,
    images: Any,
    labels: Any,
    eps: float,
    *,
    seed: int = 0,
    **params: Any,
) -> Evaluation:
    """The one-call robustness check: ``model``'s accuracy on ``images`` and on ``attack``'s adversarial
    images (an attack object, or a registered name built against ``model`` with ``params``).

    ``labels`` are the true TF-Slim labels (1..1000). ε is in pixels (0..255) for uint8 images and in
    [0, 1] for float images. Robust accuracy counts an image as robust when its adversarial version
    is still labelled correctly."""
    built = attack if isinstance(attack, AttackObject) else None
    if built is None:
        if not isinstance(attack, str):
            raise ParameterError(
                f"attack must be an attack object or a registered name, got {type(attack).__name__}"
            )
        core = ATTACKS.build(attack, params, (model.name,), model.context)
    else:
        if params:
            raise ParameterError("give the attack's parameters when building it, not to evaluate()")
        core = built.attack
    if core.track == "targeted":
        raise ParameterError(f"{core.name} is a targeted attack; evaluate() measures non-targeted robustness")
    want = check_labels(to_numpy(labels).reshape(-1), len(as_batch(images).x), "labels")
    adversarial = run_attack_on(core, images, eps=eps, seed=seed)
    clean = np.asarray(to_numpy(model.predict(images)), np.int64).reshape(-1)
    adv = np.asarray(to_numpy(model.predict(adversarial)), np.int64).reshape(-1)
    n = len(want)
    return Evaluation(
        accuracy=float(np.mean(clean == want)) if n else 0.0,
        robust_accuracy=float(np.mean(adv == want)) if n else 0.0,
        labels=want,
        clean_predictions=clean,
        adversarial_predictions=adv,
        adversarial=adversarial,
    )


__all__ = [
    "AttackObject",
    "Evaluation",
    "ModelLike",
    "Models",
    "attack",
    "evaluate",
    "model_names",
    "params_of",
    "run_attack_on",
]
