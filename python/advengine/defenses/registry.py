"""Name → defense. Built-ins register themselves (a class with ``@register``, or a preset of one with
``register_preset``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from advengine.context import RunContext
from advengine.defenses.base import Defense
from advengine.registry import Component, Registry

DEFENSES: Registry[Defense[Any]] = Registry("defense")
register = DEFENSES.register
register_preset = DEFENSES.register_preset


def defense_names() -> list[str]:
    return DEFENSES.names()


def defense_component(name: str) -> Component[Defense[Any]]:
    """The registration of ``name``: its class, parameter defaults and settings."""
    return DEFENSES.get(name)


def build_defense(
    name: str,
    params: Mapping[str, Any] | None = None,
    models: Sequence[str] = (),
    context: RunContext | None = None,
) -> Defense[Any]:
    return DEFENSES.build(name, params, models, context)
