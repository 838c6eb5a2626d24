"""The plugin hook: modules imported before a roster is resolved, in the engine and in every worker.

A plugin is any importable module that registers attacks or defenses with
``advengine.attacks.register`` / ``advengine.defenses.register`` when imported. They come from the
config's ``plugins = [...]`` list and from ``ADVENGINE_PLUGINS`` (comma-separated module paths).
Workers are spawned processes, so they import the same list again before building a piece.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from advengine import env
from advengine.errors import ConfigError


def import_plugins(modules: Sequence[str], where: str = "plugins") -> None:
    """Import ``modules`` and every module named in ``ADVENGINE_PLUGINS`` (each at most once)."""
    for name in (*env.plugins(), *modules):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            source = env.PLUGINS if name in env.plugins() and name not in modules else where
            raise ConfigError(
                f"{source}: cannot import plugin module {name!r} ({exc}); "
                "check the module path and PYTHONPATH"
            ) from None


__all__ = ["import_plugins"]
