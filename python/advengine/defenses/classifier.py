"""``classifier``: the plain-model defense (the NIPS 2017 "base model" sample), an ensemble of zoo
classifiers whose logits are averaged, with no input transformation; and :class:`ModelEnsemble`, the
models behind every built-in defense.

Source models come from the roster entry's ``models`` (default: ``efficientnet-lite0``). Each model
sees the 299×299 images resized bilinearly to its native size. ONNX Runtime providers come from the
defense's :class:`~advengine.context.RunContext` (the config's, under ``advengine eval``), else CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from advengine.context import RunContext
from advengine.data.images import to_model_input
from advengine.data.labels import labels_from_logits
from advengine.defenses.base import DEFENSES, Defense
from advengine.errors import ParameterError
from advengine.kernels.transforms import PipelineSpec
from advengine.models import OnnxClassifier, load_classifier
from advengine.models.dropout import DROPOUT_NOISE
from advengine.params import Params
from advengine.types import ImagesU8, Labels

DEFAULT_MODEL = "efficientnet-lite0"
#: ONNX Runtime intra-op threads per model (None: ONNX Runtime's default).
Threads = Annotated[int, Field(ge=1)] | None


def softmax(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: npt.NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return out


class ModelEnsemble:
    """Zoo classifiers loaded on first use (so building a roster, i.e. validating a config, never loads
    a model), with their outputs fused."""

    def __init__(
        self, models: Sequence[str], threads: int | None, context: RunContext, dropout: float = 0.0
    ) -> None:
        self.models = tuple(models)
        self.threads = threads
        self.context = context
        #: Dropout rate kept on at inference before each model's final layer (0: none).
        self.dropout = dropout
        self._classifiers: list[OnnxClassifier] | None = None

    def classifiers(self) -> list[OnnxClassifier]:
        if self._classifiers is None:
            self._classifiers = [
                load_classifier(m, threads=self.threads, context=self.context, dropout=self.dropout)
                for m in self.models
            ]
        return self._classifiers

    def scores(
        self, images: ImagesU8, fusion: Literal["logit", "prob"], rng: np.random.Generator | None = None
    ) -> npt.NDArray[np.float64]:
        """Mean logits or mean probabilities [n, 1000] of a uint8 batch; with dropout, each model's
        masks come from ``rng`` (one uniform draw per image and feature)."""
        if self.dropout and rng is None:
            raise ParameterError("an ensemble with dropout needs the defense's random generator")
        x = to_model_input(images)
        total = np.zeros((len(images), 1000), np.float64)
        classifiers = self.classifiers()
        for clf in classifiers:
            extra: dict[str, npt.NDArray[np.float32]] = {}
            if rng is not None and self.dropout:
                width = int(clf.extra_inputs[DROPOUT_NOISE][1])
                extra = {DROPOUT_NOISE: rng.random((len(x), width), np.float32)}
            z = clf.logits(clf.prepare(x), extra=extra).astype(np.float64)
            total += softmax(z) if fusion == "prob" else z
        return total / len(classifiers)


class ClassifierParams(Params):
    threads: Threads = None


@DEFENSES.register
class ClassifierDefense(Defense[ClassifierParams]):
    """Labels images with the argmax of the models' mean logits."""

    name = "classifier"
    params_type = ClassifierParams

    def __init__(self, params: ClassifierParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.ensemble = ModelEnsemble(self.models, params.threads, self.context)

    def default_models(self) -> tuple[str, ...]:
        return (DEFAULT_MODEL,)

    def spec(self) -> PipelineSpec:
        return PipelineSpec(self.models)

    def warm_up(self, batch: int) -> None:
        self.ensemble.classifiers()

    def classify(self, images: ImagesU8, rng: np.random.Generator) -> Labels:
        if len(images) == 0:
            raise ParameterError("classifier defense got an empty batch")
        return labels_from_logits(self.ensemble.scores(images, "logit"))
