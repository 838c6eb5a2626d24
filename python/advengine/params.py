"""Typed parameters for attacks and defenses.

Each attack or defense declares its parameters as a frozen pydantic model with the published defaults;
a preset registers the same model with other defaults (:mod:`advengine.registry`). :func:`parse_params`
builds one from untyped input (a TOML table, CLI ``key=value`` strings) once, and a bad key or value is
one :class:`~advengine.errors.ConfigError` naming the key (:func:`advengine.validation.explain`).
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from advengine.context import RunContext
from advengine.validation import Strict, explain

P = TypeVar("P", bound="Params")


def _arms(hint: Any) -> tuple[Any, ...]:
    """The types a field accepts: ``int | None`` → (int, NoneType)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _plain(hint: Any) -> Any:
    """``hint`` without ``Annotated`` constraints, so ``advengine list`` shows ``float | None``."""
    if typing.get_origin(hint) is typing.Annotated:
        return _plain(typing.get_args(hint)[0])
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, (_plain(a) for a in typing.get_args(hint)))
    return hint


class Params(Strict):
    """Base class of every parameter set (no fields).

    Values are converted the way a TOML file or a command line writes them ("5" → 5, "yes" → True,
    "3, 4" → (3, 4)), but a boolean is never taken for a number.
    """

    unknown_kind: ClassVar[str] = "parameter"

    @field_validator("*", mode="before")
    @classmethod
    def _from_text(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields[info.field_name or ""]
        arms = _arms(field.annotation)
        if isinstance(value, bool) and bool not in arms and (int in arms or float in arms):
            raise PydanticCustomError(
                "int_type" if int in arms else "float_type", "a boolean is not a number"
            )
        if isinstance(value, str) and any(typing.get_origin(a) is tuple for a in arms):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value


class Configured(Generic[P]):
    """Shared by attacks and defenses: the registered name, typed parameters and source models."""

    #: The parameter model (the registry validates params with it and this class's preset defaults).
    params_type: ClassVar[type[Params]] = Params
    #: Attributes a registration may set per name (``register_preset`` keywords that are not params),
    #: e.g. ``default_models=first_model``, an attack's ``track``.
    settings: ClassVar[frozenset[str]] = frozenset({"default_models"})

    def __init__(
        self,
        params: P,
        *,
        name: str,
        models: Sequence[str] = (),
        context: RunContext | None = None,
        **settings: Any,
    ) -> None:
        self.name = name
        self.params = params
        #: Where this instance makes its ONNX Runtime sessions (providers, threads, cache, device).
        self.context = context if context is not None else RunContext()
        for key, value in settings.items():
            setattr(self, key, value)  # the registry checked every key against `settings`
        #: The source models given, else the default of the registration or of the class.
        self.models = tuple(models) or self.default_models()

    def default_models(self) -> tuple[str, ...]:
        return ()

    def warm_up(self, batch: int) -> None:
        """Load what a first batch of ``batch`` images would otherwise load (models, sessions), so
        that a competition piece's time limit counts only its work on the batch. Nothing by default."""
        return

    def __repr__(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self.params.model_dump().items()]
        if self.models:
            parts.append(f"models={list(self.models)!r}")
        return f"{self.name}({', '.join(parts)})"


def parse_params(
    cls: type[P],
    values: Mapping[str, Any],
    owner: str,
    defaults: Mapping[str, Any] | None = None,
    prefix: Sequence[str | int] = (),
) -> P:
    """Build ``cls`` from ``values`` over ``defaults`` (a preset's); unknown keys and bad values are
    one ConfigError that starts with ``owner`` and the key path ``prefix`` (where the params sit in a
    file: ``("attacks", 2, "params")``)."""
    try:
        return cls.model_validate({**(defaults or {}), **values})
    except ValidationError as exc:
        raise explain(exc, owner, prefix=prefix) from None


def describe(cls: type[Params], defaults: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """Name, type and default of every parameter, for ``advengine list``."""
    out = []
    for name, field in cls.model_fields.items():
        default = (defaults or {}).get(name, field.default)
        hint = _plain(field.annotation)
        if typing.get_origin(hint) is typing.Literal:
            type_name = " | ".join(repr(a) for a in typing.get_args(hint))  # the choices, not "Literal"
        else:
            type_name = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
        out.append({"name": name, "type": type_name, "default": repr(default)})
    return out


__all__ = ["Configured", "Params", "describe", "parse_params"]
