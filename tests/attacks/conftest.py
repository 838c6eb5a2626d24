"""Real-model fixtures of the attack tests: a few embedded DEV sample images and the zoo classifiers.

Kept small on purpose (CI has two cores): 8 images, reduced iteration counts; compiled gradient graphs
are cached on disk and their sessions in memory, so each source ensemble compiles once per run."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from advengine.data import load_dataset, sample_dataset_dir
from advengine.data.images import to_model_input
from advengine.models import OnnxClassifier, load_classifier

U8 = npt.NDArray[np.uint8]


@pytest.fixture(scope="session")
def sample8() -> tuple[U8, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    ds = load_dataset(sample_dataset_dir()).head(8)
    assert ds.true_labels is not None
    assert ds.target_classes is not None
    return ds.read_images(), ds.true_labels, ds.target_classes


@pytest.fixture(scope="session")
def zoo() -> dict[str, OnnxClassifier]:
    return {m: load_classifier(f"efficientnet-{m}") for m in ("lite0", "lite1", "lite2")}


@pytest.fixture(scope="session")
def logits_of(zoo: dict[str, OnnxClassifier]) -> Callable[[str, U8], npt.NDArray[np.float32]]:
    def run(model: str, images: U8) -> npt.NDArray[np.float32]:
        clf = zoo[model]
        return clf.logits(clf.prepare(to_model_input(images)))

    return run


def true_label_ce(logits: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]) -> float:
    """Mean cross-entropy of the true TF-Slim labels: a smooth measure of how much an attack hurts."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels - 1].mean())
