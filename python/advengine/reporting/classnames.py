"""ImageNet class names for TF-Slim labels, from the bundled ``imagenet_classes.txt``.

The file holds the 1000 ILSVRC-2012 class names in class-index order, one a line; it was generated
once from torchvision's ``ResNet50_Weights.IMAGENET1K_V1.meta["categories"]`` (a list in the library's
source, no download) and is committed, so nothing is fetched at run time. TF-Slim label ``k`` is class
index ``k − 1``; label 0 is TF-Slim's background class.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def _names() -> tuple[str, ...]:
    text = resources.files("advengine.reporting").joinpath("imagenet_classes.txt").read_text("utf-8")
    return tuple(line for line in text.splitlines() if line)


def class_name(label: int) -> str:
    """The class name of TF-Slim ``label`` (1..1000), "background" for 0, "label N" otherwise."""
    names = _names()
    if label == 0:
        return "background"
    return names[label - 1] if 1 <= label <= len(names) else f"label {label}"


__all__ = ["class_name"]
