"""Acceptance: top-1 of the bundled models on the 800 DEV images, resized bilinearly from 299.

Reference (original PyTorch weights, same preprocessing): 92.5 / 92.7 / 93.5 %. The thresholds leave
room for float differences but catch any real conversion mistake (a wrong pad, normalisation or
label offset costs far more than a point).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from advengine.errors import DatasetError, ParameterError
from advengine.models import load_classifier, measure_accuracy

from .conftest import tiny_classifier


@pytest.mark.slow
@pytest.mark.usefixtures("zoo_env")
@pytest.mark.parametrize(
    ("name", "minimum"),
    [("efficientnet-lite0", 0.910), ("efficientnet-lite1", 0.915), ("efficientnet-lite2", 0.920)],
)
def test_dev_accuracy(name: str, minimum: float, dev_dir: Path) -> None:
    report = measure_accuracy(load_classifier(name), dev_dir, batch_size=50)
    assert report.images == 800
    assert report.model == name
    assert report.accuracy >= minimum, f"{name}: {report.accuracy:.4f} < {minimum}"
    assert report.correct == round(report.accuracy * 800)


@pytest.mark.usefixtures("zoo_env")
def test_limit_and_progress(dev_dir: Path, tmp_path: Path) -> None:
    from advengine.models.classifier import OnnxClassifier

    clf = OnnxClassifier(tiny_classifier(tmp_path / "t.onnx"), input_size=8)
    seen: list[int] = []
    report = measure_accuracy(clf, dev_dir, limit=5, batch_size=2, on_batch=seen.append)
    assert seen == [2, 2, 1]
    assert report.images == 5
    assert 0 <= report.correct <= 5
    assert report.to_dict()["images"] == 5


def test_bad_arguments_and_unlabelled_data(dev_dir: Path, tmp_path: Path) -> None:
    from advengine.kernels import write_png_batch
    from advengine.models.classifier import OnnxClassifier

    clf = OnnxClassifier(tiny_classifier(tmp_path / "t.onnx"), input_size=8)
    with pytest.raises(ParameterError, match="batch size must be at least 1"):
        measure_accuracy(clf, dev_dir, batch_size=0)
    with pytest.raises(ParameterError, match="limit must be at least 1"):
        measure_accuracy(clf, dev_dir, limit=0)
    plain = tmp_path / "plain"
    plain.mkdir()
    import numpy as np

    write_png_batch(np.zeros((1, 299, 299, 3), np.uint8), [plain / "a.png"])
    with pytest.raises(DatasetError, match="has no labels"):
        measure_accuracy(clf, plain)
