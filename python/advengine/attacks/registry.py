"""Name → attack class. Built-ins register themselves with ``@register``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from advengine.attacks.base import Attack
from advengine.registry import Registry

ATTACKS: Registry[Attack] = Registry("attack")
register = ATTACKS.register()


def attack_names() -> list[str]:
    return ATTACKS.names()


def attack_class(name: str) -> type[Attack]:
    return ATTACKS.get(name)


def build_attack(name: str, params: Mapping[str, Any] | None = None, models: Sequence[str] = ()) -> Attack:
    return ATTACKS.build(name, params, models)
