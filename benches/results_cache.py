"""The measurement cache of ``measure_results.py`` (benches/.results_cache.json) and the 95 % Wilson
intervals every accuracy in docs/results.md carries."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from advengine.files import atomic_write


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    z = 1.96
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


class Cache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value
        atomic_write(self.path, json.dumps(self.data, indent=1, sort_keys=True))


def pct_ci(entry: dict[str, Any] | None, field: str = "correct") -> str:
    if entry is None:
        return "–"
    k, n = entry[field], entry["n"]
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.0f} [{100 * lo:.0f}–{100 * hi:.0f}]"


__all__ = ["Cache", "pct_ci", "wilson"]
