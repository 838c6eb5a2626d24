"""Shared flags and helpers of ``advengine attack`` and ``advengine defend``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from advengine.api import Progress
from advengine.cli._options import progress_callback
from advengine.errors import ConfigError

T = TypeVar("T")

BatchSizeOption = Annotated[int, typer.Option("--batch-size", min=1, help="Images per batch.")]


def models_option(help_text: str) -> Any:
    return typer.Option("--models", help=help_text)


def seed_option(help_text: str) -> Any:
    return typer.Option("--seed", min=0, help=help_text)


def param_option(kind: str) -> Any:
    return typer.Option("--param", help=f"{kind} parameter key=value (repeatable).")


def limit_option(verb: str) -> Any:
    return typer.Option("--limit", min=1, help=f"{verb} only the first N images.")


def parse_pairs(pairs: list[str] | None) -> dict[str, Any]:
    """``key=value`` flags → an untyped dict (the Params dataclass types and checks the values)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {pair!r} is not key=value; e.g. --param iterations=5")
        out[key.strip()] = value.strip()
    return out


def parse_models(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    models = tuple(m.strip() for m in raw.split(",") if m.strip())
    if not models:
        raise ConfigError("--models is empty; give comma-separated model names, e.g. efficientnet-lite0")
    return models


def common_args(
    models: str | None, param: list[str] | None, seed: int, batch_size: int, limit: int | None
) -> dict[str, Any]:
    """The keyword arguments ``run_attack`` and ``run_defense`` share, parsed from their flags."""
    return {
        "models": parse_models(models),
        "params": parse_pairs(param),
        "seed": seed,
        "batch_size": batch_size,
        "limit": limit,
    }


def with_progress(name: str, as_json: bool, call: Callable[[Progress, Callable[[str], None] | None], T]) -> T:
    """Run ``call(progress, log)`` under a progress bar; with ``--json`` neither bar nor log lines, so
    stdout and stderr stay clean for machines."""
    with progress_callback(name, quiet=as_json) as update:
        return call(update, None if as_json else lambda m: typer.echo(m, err=True))
