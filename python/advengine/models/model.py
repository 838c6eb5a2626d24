"""``advengine.Model``: one classifier of the zoo as a Python object.

A model is named: the zoo's, a registered one, or (from :meth:`Model.from_onnx`) one known to this
process only as ``onnx-<digest>``. Attacks and defenses take it where they take a model name, so an
imported model needs no registration to be attacked; :meth:`Model.register` persists it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from advengine.context import RunContext
from advengine.data.arrays import as_batch, like, to_numpy
from advengine.data.labels import labels_from_logits
from advengine.errors import ModelError
from advengine.models.classifier import OnnxClassifier, load_classifier
from advengine.models.locations import cache_dir
from advengine.models.manifest import Manifest
from advengine.models.zoo import add_memory_model, get_manifest

if TYPE_CHECKING:
    from advengine.models.importer import Wrapped as _Wrapped


class Model:
    """An ImageNet classifier (1000 classes, TF-Slim labels 1..1000).

    ``model(images)`` gives ``[n, 1000]`` logits and ``model.predict(images)`` labels, for uint8
    ``[n, h, w, 3]`` or float ``[n, 3, h, w]`` images in [0, 1] of any size (resized bilinearly to the
    model's own size), numpy arrays or anything with ``__dlpack__``/``__array__``; results come back
    as the same kind of array.

    >>> model = Model.load("efficientnet-lite0")
    >>> model.input_size
    224
    """

    def __init__(
        self, name: str, *, context: RunContext | None = None, _wrapped: _Wrapped | None = None
    ) -> None:
        self.manifest: Manifest = get_manifest(name)
        self.name = self.manifest.name
        self.context = context if context is not None else RunContext.from_env()
        self._wrapped = _wrapped
        self._classifier: OnnxClassifier | None = None

    @classmethod
    def load(cls, name: str, *, context: RunContext | None = None) -> Model:
        """A model of the zoo or a registered one, by name (``advengine models list`` shows them)."""
        return cls(name, context=context)

    @classmethod
    def from_onnx(
        cls,
        source: str | Path | bytes,
        *,
        normalization: str = "imagenet",
        mean: tuple[float, float, float] | None = None,
        std: tuple[float, float, float] | None = None,
        size: int | None = None,
        labels: str = "imagenet1000",
        output: str = "logits",
        context: RunContext | None = None,
    ) -> Model:
        """Your own ONNX classifier (a path, or the serialized model as bytes), wrapped exactly as
        ``advengine models import`` does (docs/models.md) but not registered: it is known as
        ``onnx-<digest>`` in this process. ``normalization`` is ``imagenet``, ``tf`` or ``none``
        (``mean``/``std`` for pixels in [0, 1] override it); ``labels`` is ``imagenet1000`` or
        ``tfslim1001``; ``output`` is ``logits`` or ``probs``."""
        # Deferred: the importer needs onnx (about 1 s to import), which loading a model does not.
        from advengine.models.importer import WrapOptions, memory_manifest, wrap_source

        wrapped = wrap_source(source, WrapOptions(normalization, mean, std, size, labels, output))
        ctx = context if context is not None else RunContext.from_env()
        add_memory_model(memory_manifest(wrapped, ctx.cache_dir or cache_dir()))
        return cls(f"onnx-{wrapped.sha256[:12]}", context=ctx, _wrapped=wrapped)

    @property
    def input_size(self) -> int:
        """The side the model's graph takes; other sizes are resized to it."""
        return self.manifest.input_size

    @property
    def notes(self) -> list[str]:
        """What the import changed (empty for zoo models)."""
        return list(self._wrapped.notes) if self._wrapped is not None else []

    def register(self, name: str, *, description: str | None = None, force: bool = False) -> Model:
        """Persist a :meth:`from_onnx` model under ``name`` (as ``advengine models import`` does), so
        other processes and the CLI know it; returns the registered model."""
        if self._wrapped is None:
            raise ModelError(
                f"model {self.name!r} is already in the zoo; only Model.from_onnx models are registered"
            )
        from advengine.models.importer import register_wrapped

        register_wrapped(self._wrapped, name, description=description, force=force)
        return Model(name, context=self.context, _wrapped=self._wrapped)

    def classifier(self) -> OnnxClassifier:
        """The ONNX Runtime classifier (float32 NCHW at :attr:`input_size`), made on first use."""
        if self._classifier is None:
            self._classifier = load_classifier(self.name, context=self.context)
        return self._classifier

    def _logits(self, images: Any) -> tuple[npt.NDArray[np.float32], Any, bool]:
        batch = as_batch(images)
        clf = self.classifier()
        return clf.logits(clf.prepare(batch.x)), batch.like, batch.single

    def __call__(self, images: Any) -> Any:
        """``[n, 1000]`` logits (output index k is TF-Slim label k + 1)."""
        logits, original, single = self._logits(images)
        return like(logits[0] if single else logits, original)

    def predict(self, images: Any) -> Any:
        """TF-Slim labels (1..1000), int64, one per image."""
        logits, original, single = self._logits(images)
        labels = labels_from_logits(logits)
        return like(labels[0:1].reshape(()) if single else labels, original)

    def accuracy(self, images: Any, labels: Any) -> float:
        """The share of ``images`` whose predicted label is ``labels`` (TF-Slim 1..1000)."""
        got = np.asarray(to_numpy(self.predict(images)))
        want = to_numpy(labels)
        return float(np.mean(got == want)) if len(want) else 0.0

    def __repr__(self) -> str:
        return f"Model({self.name!r}, input_size={self.input_size})"


__all__ = ["Model"]
