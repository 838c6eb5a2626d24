"""Typed parameters for attacks and defenses.

Each attack or defense declares its parameters as a frozen dataclass with the published defaults.
:func:`parse_params` builds one from untyped input (a TOML table, CLI ``key=value`` pairs) and names
the offending key in a :class:`~advengine.errors.ConfigError` when something does not fit.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from advengine.errors import ConfigError, ParameterError

P = TypeVar("P")


@dataclasses.dataclass(frozen=True)
class Params:
    """Base class of every parameter set (no fields)."""


class Configured:
    """Shared by attacks and defenses: a registry name, typed parameters and source models."""

    name: ClassVar[str]
    #: Parameter dataclass with the published defaults.
    params_type: ClassVar[type[Params]] = Params

    def __init__(self, params: Params | None = None, *, models: Sequence[str] = ()) -> None:
        self.params = params if params is not None else self.params_type()
        if not isinstance(self.params, self.params_type):
            raise ParameterError(f"{self.name}: params must be {self.params_type.__name__}")
        self.models = tuple(models)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(self.params).items())
        models = f", models={list(self.models)!r}" if self.models else ""
        return f"{type(self).__name__}({fields}{models})"


def _coerce(owner: str, key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"{owner}: {key} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arm in typing.get_args(hint):
            if arm is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(owner, key, value, arm)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{owner}: {key} has an unsupported value {value!r}")
    if origin is tuple:
        args = typing.get_args(hint)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{owner}: {key} must be a list, got {value!r}")
        elem = args[0] if args else Any
        return tuple(_coerce(owner, key, v, elem) for v in value)
    if hint is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"{owner}: {key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise ConfigError(f"{owner}: {key} must be an integer, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{owner}: {key} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{owner}: {key} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{owner}: {key} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{owner}: {key} must be a string, got {value!r}")
        return value
    return value


def parse_params(cls: type[P], values: Mapping[str, Any], owner: str) -> P:
    """Build ``cls`` (a Params dataclass) from ``values``; unknown keys and bad types are errors."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise ConfigError(f"{owner}: unknown parameter {unknown[0]!r} (known: {known})")
    kwargs = {k: _coerce(owner, k, v, hints[k]) for k, v in values.items()}
    try:
        obj = cls(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"{owner}: {exc}") from None
    return obj


def describe(cls: type[Params]) -> list[dict[str, str]]:
    """Name, type and default of every parameter, for ``advengine list``."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        hint = hints[f.name]
        type_name = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
        out.append({"name": f.name, "type": type_name, "default": repr(default)})
    return out
