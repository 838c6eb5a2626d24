"""Name → attack. Built-ins register themselves (a class with ``@register``, or a preset of one with
``register_preset``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from advengine.attacks.base import Attack
from advengine.context import RunContext
from advengine.registry import Component, Registry

ATTACKS: Registry[Attack[Any]] = Registry("attack")
register = ATTACKS.register
register_preset = ATTACKS.register_preset


def attack_names() -> list[str]:
    return ATTACKS.names()


def attack_component(name: str) -> Component[Attack[Any]]:
    """The registration of ``name``: its class, parameter defaults and settings."""
    return ATTACKS.get(name)


def build_attack(
    name: str,
    params: Mapping[str, Any] | None = None,
    models: Sequence[str] = (),
    context: RunContext | None = None,
) -> Attack[Any]:
    return ATTACKS.build(name, params, models, context)
