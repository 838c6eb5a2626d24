"""``classifier``: the plain-model defense (the NIPS 2017 "base model" sample), an ensemble of zoo
classifiers whose logits are averaged, with no input transformation.

Source models come from the roster entry's ``models`` (default: ``efficientnet-lite0``). Each model
sees the 299×299 images resized bilinearly to its native size. ONNX Runtime providers come from
``ADVENGINE_PROVIDERS`` (comma-separated; the eval engine sets it from the config), else CPU.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from advengine import env
from advengine.data.images import to_model_input
from advengine.data.labels import labels_from_logits
from advengine.defenses.base import Defense
from advengine.defenses.registry import register
from advengine.errors import ParameterError
from advengine.models import OnnxClassifier, load_classifier
from advengine.params import Params
from advengine.types import ImagesU8, Labels

DEFAULT_MODEL = "efficientnet-lite0"


@dataclasses.dataclass(frozen=True)
class ClassifierParams(Params):
    #: ONNX Runtime intra-op threads per model (None: ONNX Runtime's default).
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")


def providers_from_env() -> tuple[str, ...] | None:
    return env.providers()


@register
class ClassifierDefense(Defense):
    """Labels images with the argmax of the models' mean logits."""

    name = "classifier"
    params_type = ClassifierParams

    def __init__(self, params: Params | None = None, *, models: Sequence[str] = ()) -> None:
        super().__init__(params, models=models or (DEFAULT_MODEL,))
        self._classifiers: list[OnnxClassifier] | None = None

    def _load(self) -> list[OnnxClassifier]:
        # Lazily, so building the roster (config validation) never loads a model.
        if self._classifiers is None:
            assert isinstance(self.params, ClassifierParams)
            self._classifiers = [
                load_classifier(m, providers=providers_from_env(), threads=self.params.threads)
                for m in self.models
            ]
        return self._classifiers

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        if len(images) == 0:
            raise ParameterError("classifier defense got an empty batch")
        x = to_model_input(images)
        total = None
        for clf in self._load():
            logits = clf.logits(clf.prepare(x)).astype(np.float64)
            total = logits if total is None else total + logits
        assert total is not None
        return labels_from_logits(total)
