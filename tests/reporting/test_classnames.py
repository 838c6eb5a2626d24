"""ImageNet class names for TF-Slim labels (label k is class index k − 1)."""

from __future__ import annotations

from importlib import resources

from advengine.reporting.classnames import class_name


def test_the_bundled_file_has_1000_names() -> None:
    text = resources.files("advengine.reporting").joinpath("imagenet_classes.txt").read_text("utf-8")
    assert len(text.splitlines()) == 1000


def test_tf_slim_labels_map_to_class_index_minus_one() -> None:
    assert class_name(1) == "tench"
    assert class_name(389) == "giant panda"
    assert class_name(1000) == "toilet tissue"
    assert class_name(0) == "background"
    assert class_name(1001) == "label 1001"
