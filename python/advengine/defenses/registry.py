"""Name → defense class. Built-ins register themselves with ``@register``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from advengine.defenses.base import Defense
from advengine.registry import Registry

DEFENSES: Registry[Defense] = Registry("defense")
register = DEFENSES.register()


def defense_names() -> list[str]:
    return DEFENSES.names()


def defense_class(name: str) -> type[Defense]:
    return DEFENSES.get(name)


def build_defense(name: str, params: Mapping[str, Any] | None = None, models: Sequence[str] = ()) -> Defense:
    return DEFENSES.build(name, params, models)
