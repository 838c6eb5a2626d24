"""The plain-model defense on real sample images (a real model is the point of this test)."""

from __future__ import annotations

import numpy as np
import pytest

from advengine.context import RunContext
from advengine.data import load_dataset, sample_dataset_dir
from advengine.defenses import build_defense
from advengine.defenses.classifier import ClassifierDefense
from advengine.errors import ConfigError, ModelNotFoundError


@pytest.mark.slow
def test_classifier_labels_sample_images() -> None:
    ds = load_dataset(sample_dataset_dir()).head(8)
    images = ds.read_images()
    single = build_defense("classifier", context=RunContext(providers=("CPUExecutionProvider",)))
    assert single.models == ("efficientnet-lite0",)
    labels = single(images)
    # The context reached the session (no provider travelled through the environment).
    assert isinstance(single, ClassifierDefense)
    assert [c.providers for c in single.ensemble.classifiers()] == [["CPUExecutionProvider"]]
    assert labels.shape == (8,)
    assert ds.true_labels is not None
    assert int((labels == ds.true_labels).sum()) >= 6  # lite0 is ~75 % top-1 on DEV; these 8 are easy
    # An "ensemble" of the same model twice averages identical logits: same labels.
    twice = build_defense("classifier", {"threads": 1}, models=["efficientnet-lite0", "efficientnet-lite0"])
    assert np.array_equal(twice(images), labels)


def test_classifier_validates_lazily() -> None:
    # Building (what config validation does) loads nothing, so an unknown model fails on first use.
    defense = build_defense("classifier", models=["no-such-model"])
    with pytest.raises(ModelNotFoundError):
        defense(np.zeros((1, 299, 299, 3), dtype=np.uint8))
    with pytest.raises(ConfigError, match="threads must be at least 1"):
        build_defense("classifier", {"threads": 0})
