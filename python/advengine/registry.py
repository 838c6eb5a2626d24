"""A name → class registry shared by attacks and defenses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from advengine.errors import ConfigError
from advengine.params import Params, parse_params


class Registrable(Protocol):
    name: ClassVar[str]
    params_type: ClassVar[type[Params]]

    def __init__(self, params: Params | None = None, *, models: Sequence[str] = ()) -> None: ...


T = TypeVar("T", bound=Registrable)


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[T]] = {}

    def register(self) -> Callable[[type[T]], type[T]]:
        def deco(cls: type[T]) -> type[T]:
            if cls.name in self._classes:
                raise ValueError(f"{self.kind} {cls.name!r} registered twice")
            self._classes[cls.name] = cls
            return cls

        return deco

    def names(self) -> list[str]:
        return sorted(self._classes)

    def get(self, name: str) -> type[T]:
        try:
            return self._classes[name]
        except KeyError:
            known = ", ".join(self.names())
            raise ConfigError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}") from None

    def build(self, name: str, params: Mapping[str, Any] | None = None, models: Sequence[str] = ()) -> T:
        """An instance from its name and untyped parameters (a TOML table or CLI pairs)."""
        cls = self.get(name)
        p = parse_params(cls.params_type, dict(params or {}), owner=f"{self.kind} {name}")
        return cls(p, models=models)
