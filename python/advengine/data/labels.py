"""TF-Slim label numbering, the one convention outside a model.

The NIPS 2017 dataset and every submission speak TF-Slim labels: 1..1000 are the ImageNet classes
(ILSVRC-2012 index + 1) and 0 is a "background" class that the competition's Inception models emit
as logit 0 of 1001. Our ONNX classifiers have 1000 outputs, so their index ``k`` is label ``k + 1``.
Converting here, and nowhere else, keeps the off-by-one in one place.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import numpy.typing as npt

from advengine.errors import ParameterError, ShapeError

#: Classes of a 1000-class model, and the TF-Slim label range of the dataset.
NUM_CLASSES = 1000
BACKGROUND = 0
FIRST_LABEL = 1
LAST_LABEL = 1000

IntArray = npt.NDArray[np.int64]


def _as_int_array(values: Any, name: str) -> IntArray:
    arr = np.asarray(values)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ParameterError(f"{name} must be integers, got dtype {arr.dtype.name}")
    return arr.astype(np.int64, copy=False)


@overload
def tf_slim_label(index1000: int) -> int: ...
@overload
def tf_slim_label(index1000: npt.ArrayLike) -> IntArray: ...
def tf_slim_label(index1000: Any) -> int | IntArray:
    """The TF-Slim label of a 1000-class output index (``k → k + 1``)."""
    arr = _as_int_array(index1000, "index1000")
    if arr.size and (arr.min() < 0 or arr.max() >= NUM_CLASSES):
        raise ParameterError(f"a 1000-class index must be in 0..{NUM_CLASSES - 1}")
    out = arr + 1
    return int(out) if out.ndim == 0 else out


@overload
def class_index(label: int) -> int: ...
@overload
def class_index(label: npt.ArrayLike) -> IntArray: ...
def class_index(label: Any) -> int | IntArray:
    """The 1000-class output index of a TF-Slim label (``label → label − 1``). Background (0) has no
    index in a 1000-class model and is refused."""
    arr = _as_int_array(label, "label")
    if arr.size and (arr.min() < FIRST_LABEL or arr.max() > LAST_LABEL):
        raise ParameterError(
            f"a TF-Slim class label must be in {FIRST_LABEL}..{LAST_LABEL} (0 is background)"
        )
    out = arr - 1
    return int(out) if out.ndim == 0 else out


def is_valid_label(value: int) -> bool:
    """Whether ``value`` is a TF-Slim class label that a dataset may hold (1..1000)."""
    return FIRST_LABEL <= value <= LAST_LABEL


def labels_from_logits(logits: npt.ArrayLike) -> IntArray:
    """TF-Slim labels predicted by ``[n, 1000]`` logits (argmax + 1) or by ``[n, 1001]`` TF-Slim
    logits whose column 0 is background (argmax as is, so 0 means background)."""
    arr = np.asarray(logits)
    if arr.ndim != 2 or arr.shape[1] not in (NUM_CLASSES, NUM_CLASSES + 1):
        raise ShapeError(f"logits must have shape [n, 1000] or [n, 1001], got {list(arr.shape)}")
    top: IntArray = np.argmax(arr, axis=1).astype(np.int64)
    if arr.shape[1] == NUM_CLASSES:
        top += 1
    return top


__all__ = [
    "BACKGROUND",
    "FIRST_LABEL",
    "LAST_LABEL",
    "NUM_CLASSES",
    "class_index",
    "is_valid_label",
    "labels_from_logits",
    "tf_slim_label",
]
