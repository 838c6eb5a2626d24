"""The one translation of pydantic's validation errors into advengine's one-line errors.

Every input advengine validates with pydantic (the competition TOML, attack and defense params, model
manifests, submission metadata.json) fails with the same shape of message: where it came from, the
key path, what the value must be and the value given, e.g.
``config.toml: attacks[2].params.steps must be an integer, got 'ten'``.

Models built on :class:`Strict` also name the known keys when a key is unknown. Validators that need
their own wording raise :func:`must` (``… must be <what>, got <value>``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from advengine.errors import AdvEngineError, ConfigError

#: pydantic error type → what the value must be.
_WHAT = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "missing": "given",
}


def _at_least(bound: Any) -> str:
    return "non-negative" if bound == 0 else f"at least {bound}"


def _greater(bound: Any) -> str:
    return "positive" if bound == 0 else f"greater than {bound}"


#: pydantic bound error → what the value must be, from the bound.
_BOUNDS: dict[str, Callable[[Any], str]] = {
    "greater_than_equal": _at_least,
    "greater_than": _greater,
    "less_than_equal": "at most {}".format,
    "less_than": "less than {}".format,
}


def must(what: str) -> PydanticCustomError:
    """The error a validator raises for a value that is not ``what`` (``"a power of two"``)."""
    return PydanticCustomError("must", "must be {what}", {"what": what})


#: Errors about the number of items, which the value's own phrase ("a list of 3 numbers") says better.
_SHAPE = frozenset({"missing", "too_short", "too_long"})


def phrased(what: str) -> WrapValidator:
    """An ``Annotated`` marker: any error of the value (type or bound) reads ``must be <what>``, for
    fields whose rule is best said in one phrase ("an integer >= 1", "a positive number of seconds")."""

    def wrap(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            if any(e["loc"] and e["type"] not in _SHAPE for e in exc.errors()):
                raise  # an error inside the value (an item of a list) keeps its own message
            raise must(what) from None

    return WrapValidator(wrap)


def unknown_key(key: str, known: Sequence[str], kind: str = "key") -> PydanticCustomError:
    return PydanticCustomError(
        "unknown_key", "unknown {kind} {key}", {"key": key, "known": ", ".join(known) or "none", "kind": kind}
    )


def _required_by_default(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    # A field whose default is validated and rejected (``Field(default="", validate_default=True)``:
    # "name must be given", phrased by the field's own rule) is a required key: the JSON Schema says
    # so, instead of offering the default it would refuse.
    for name, field in cls.model_fields.items():
        key = field.alias or name
        if field.validate_default and field.default == "" and key in schema.get("properties", {}):
            schema["properties"][key].pop("default", None)
            required = schema.setdefault("required", [])
            if key not in required:
                required.append(key)


class Strict(BaseModel):
    """Base of the validated files and tables: frozen, unknown keys are errors that list the known ones."""

    # Attribute docstrings become the fields' descriptions (``advengine config schema`` shows them).
    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True, json_schema_extra=_required_by_default
    )
    #: How :func:`explain` calls an unknown key: "key" (a file) or "parameter" (attack/defense params).
    unknown_kind: ClassVar[str] = "key"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = [f.alias or name for name, f in cls.model_fields.items()]
            # A field read under other names too (AliasChoices) knows those names.
            known += [
                str(c)
                for f in cls.model_fields.values()
                if isinstance(f.validation_alias, AliasChoices)
                for c in f.validation_alias.choices
                if isinstance(c, str)
            ]
            known = list(dict.fromkeys(known))
            unknown = sorted(str(k) for k in data if k not in known)
            if unknown:
                raise unknown_key(unknown[0], sorted(known), cls.unknown_kind)
        return data


def key_path(loc: Sequence[str | int]) -> str:
    """``("attacks", 2, "params", "steps")`` → ``attacks[2].params.steps``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _choices(expected: str) -> str:
    # pydantic writes "'a', 'b' or 'c'"; advengine's messages list them as "'a', 'b', 'c'".
    head, sep, last = expected.rpartition(" or ")
    return f"{head}, {last}" if sep else expected


def _sentence(err: ErrorDetails, where: str, path: str) -> str:
    kind, ctx, given = err["type"], err.get("ctx", {}), err.get("input")
    at = f"{where}: {path}" if path else where
    if kind == "unknown_key":
        if ctx["kind"] == "parameter":
            return f"{at}: unknown parameter {ctx['key']!r} (known: {ctx['known']})"
        return (
            f"{at}.{ctx['key']} is not a known key (known: {ctx['known']})"
            if path
            else (f"{where}: {ctx['key']} is not a known key (known: {ctx['known']})")
        )
    if kind == "missing":
        return f"{where}: missing field {path!r}"
    if kind == "must":
        what = ctx["what"]
    elif kind == "literal_error":
        what = f"one of {_choices(str(ctx['expected']))}"
    elif kind == "string_too_short":
        n = ctx["min_length"]
        what = "a non-empty string" if n == 1 else f"a string of at least {n} characters"
    elif kind == "string_pattern_mismatch":
        what = f"text matching {ctx['pattern']}"
    elif kind in _BOUNDS:
        what = _BOUNDS[kind](next(iter(ctx.values())))
    elif kind in ("value_error", "assertion_error"):
        # A validator's own sentence: "must be …" when it is about one field, a whole one otherwise.
        text = str(ctx.get("error", err["msg"]))
        return f"{at} {text}, got {given!r}" if path and text.startswith("must ") else f"{at}: {text}"
    else:
        what = _WHAT.get(kind, "valid")
    return f"{at} must be {what}, got {given!r}"


def explain(
    exc: ValidationError,
    where: str,
    *,
    prefix: Sequence[str | int] = (),
    error: type[AdvEngineError] = ConfigError,
) -> AdvEngineError:
    """One line for the first error of ``exc``: ``where`` (a file, "attack ifgsm"), the key path below
    ``prefix``, what the value must be and the value given."""
    err = exc.errors(include_url=False)[0]
    return error(_sentence(err, where, key_path([*prefix, *err["loc"]])))


__all__ = ["Strict", "explain", "key_path", "must", "phrased", "unknown_key"]
