"""Validation of scalar parameters before they cross into Rust, so a bad value gets a one-line
ParameterError instead of a conversion error from the binding layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from advengine.errors import ParameterError


def int_param(value: Any, name: str, lo: int, hi: int, hint: str = "") -> int:
    """``value`` as a Python int in ``lo..=hi``; bools and floats are refused."""
    ok = not isinstance(value, bool) and isinstance(value, int | np.integer) and lo <= int(value) <= hi
    if not ok:
        extra = f" ({hint})" if hint else ""
        raise ParameterError(f"{name} must be an integer in {lo}..{hi}{extra}, got {value!r}")
    return int(value)


def size_param(value: Any, name: str, hi: int) -> tuple[int, int]:
    """An output size given as ``(height, width)`` or one int for a square."""
    if isinstance(value, tuple | list) and len(value) == 2:
        return int_param(value[0], f"{name} height", 1, hi), int_param(value[1], f"{name} width", 1, hi)
    side = int_param(value, name, 1, hi, "or a (height, width) pair")
    return side, side
