"""docs/architecture.md names each hop of one image through ``advengine eval`` as ``module:function``;
every one of them must exist, so the walk-through cannot drift from the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
SECTION = "## One image through `advengine eval`"
HOP = re.compile(r"`(advengine(?:\.\w+)*):(\w+(?:\.\w+)*)`")


def _hops() -> list[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOC} has no section {SECTION!r}"
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return HOP.findall(body)


def test_the_walk_through_names_many_hops() -> None:
    hops = _hops()
    assert len(hops) >= 20
    # It covers every layer an eval run passes through.
    packages = {module.split(".")[1] for module, _ in hops}
    assert {"cli", "competition", "data", "kernels", "attacks", "defenses", "graph", "models"} <= packages


def test_every_named_module_and_function_exists() -> None:
    missing = []
    for module_name, path in _hops():
        try:
            obj: object = importlib.import_module(module_name)
        except ImportError:
            missing.append(f"{module_name} (no such module)")
            continue
        for part in path.split("."):
            if not hasattr(obj, part):
                missing.append(f"{module_name}:{path}")
                break
            obj = getattr(obj, part)
        else:
            if not callable(obj):
                missing.append(f"{module_name}:{path} (not callable)")
    assert missing == []
