"""Name → component registries shared by attacks and defenses.

A registered name is a class plus data: the defaults of its parameters and the settings its
instances take (an attack's track, its default source models). A *preset* is one more such
registration of an existing class, e.g. PGD is the iterative attack with a random start and longer
steps::

    register_preset("pgd", IterativeAttack, doc="PGD (Madry et al.) ...", step_scale=2.5, random_start=True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from advengine.context import RunContext
from advengine.errors import ConfigError
from advengine.params import Configured, Params, parse_params

C = TypeVar("C", bound=Configured[Any])
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Component(Generic[C]):
    """One registered name: the class, its parameter defaults and its constructor settings."""

    kind: str
    name: str
    cls: type[C]
    #: Parameter defaults that differ from the params model's own.
    defaults: Mapping[str, Any]
    #: Attributes of the instance this name sets (``cls.settings`` lists those allowed), e.g.
    #: ``track="targeted"``.
    settings: Mapping[str, Any]
    #: One line for ``advengine list``.
    doc: str

    @property
    def params_type(self) -> type[Params]:
        return self.cls.params_type

    def setting(self, key: str) -> Any:
        """A constructor setting of this name, else the class's default for it."""
        return self.settings.get(key, getattr(self.cls, key))

    def parse(
        self, values: Mapping[str, Any], owner: str | None = None, prefix: Sequence[str | int] = ()
    ) -> Params:
        """Typed params from untyped ``values`` over this name's defaults (errors start with ``owner``,
        default "attack <name>", and the key path ``prefix``)."""
        where = owner or f"{self.kind} {self.name}"
        return parse_params(self.params_type, values, where, self.defaults, prefix)

    def build(
        self, params: Params | None = None, models: Sequence[str] = (), context: RunContext | None = None
    ) -> C:
        """An instance with ``params`` (already typed; None: this name's defaults) that makes its
        sessions in ``context``."""
        typed = params if params is not None else self.parse({})
        return self.cls(typed, name=self.name, models=models, context=context, **self.settings)


def _first_line(doc: str | None) -> str:
    """The summary of a docstring: its first paragraph as one line (a first line alone may stop
    mid-sentence where the docstring wraps)."""
    paragraph = (doc or "").strip().split("\n\n")[0]
    return " ".join(paragraph.split())


class Registry(Generic[C]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Component[C]] = {}

    def register_preset(self, name: str, cls: type[C], *, doc: str | None = None, **defaults: Any) -> None:
        """Register ``cls`` under ``name``. Keywords naming fields of its params model are parameter
        defaults; the others are settings (checked against ``cls.settings`` now)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        fields = cls.params_type.model_fields
        params = {k: v for k, v in defaults.items() if k in fields}
        settings = {k: v for k, v in defaults.items() if k not in fields}
        bad = sorted(set(settings) - cls.settings)
        if bad:
            raise ValueError(
                f"{self.kind} {name!r}: {bad[0]!r} is neither a parameter nor a setting of {cls.__name__}"
            )
        component = Component(self.kind, name, cls, params, settings, _first_line(doc or cls.__doc__))
        component.parse({})  # a preset whose defaults do not validate fails at import, not at run time
        self._entries[name] = component

    def register(self, cls: type[C]) -> type[C]:
        """Class decorator: register ``cls`` under its ``name`` with its own defaults."""
        name = vars(cls).get("name")
        if not isinstance(name, str):
            raise ValueError(f"{cls.__name__} has no name of its own: set name = '...' on the class")
        self.register_preset(name, cls)
        return cls

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Component[C]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self.names())
            raise ConfigError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}") from None

    def build(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        models: Sequence[str] = (),
        context: RunContext | None = None,
    ) -> C:
        """An instance from its name and untyped parameters (CLI pairs, the Python API)."""
        component = self.get(name)
        return component.build(component.parse(dict(params or {})), models, context)

    def build_as(
        self,
        cls: type[T],
        name: str,
        params: Mapping[str, Any] | None = None,
        models: Sequence[str] = (),
        context: RunContext | None = None,
    ) -> T:
        """:meth:`build`, typed as ``cls`` (the class ``name`` is registered with, or a base of it), for
        callers that use what only that class has."""
        built = self.build(name, params, models, context)
        if not isinstance(built, cls):
            raise ConfigError(f"{self.kind} {name!r} is a {type(built).__name__}, not a {cls.__name__}")
        return built


__all__ = ["Component", "Registry"]
