"""Everything a config names is checked before any piece runs.

A config that parses can still name things this machine cannot give: an unknown model, an ONNX Runtime
provider that is not installed, a submission memory budget larger than the machine, or no roster at
all. Once, these were accepted and then every piece failed (exit 0). :func:`check_runnable` refuses
them with one line each, when the run starts. Bounds that need no machine (time limit finite and at
most a day, iterations at most 10 000, an executable entry point) are checked when the config is
parsed (``config.py``, the params models, ``submissions/roster.py``).
"""

from __future__ import annotations

import psutil

from advengine.competition.config import CompetitionConfig
from advengine.errors import ConfigError, ModelError, ParameterError
from advengine.models import check_models, check_providers
from advengine.types import BuiltinEntry, SubmissionEntry


def check_runnable(cfg: CompetitionConfig) -> None:
    """Raise one :class:`~advengine.errors.ConfigError` naming the first thing ``cfg`` asks for that
    this machine cannot give."""
    if not cfg.entries:
        raise ConfigError(
            f"{cfg.source}: the roster is empty; add [[attacks]], [[defenses]] or [[submissions]] "
            "tables (or --submission PATH)"
        )
    try:
        check_providers(cfg.providers)
    except ModelError as exc:
        raise ConfigError(f"{cfg.source}: providers: {exc}") from None
    total_mb = psutil.virtual_memory().total >> 20
    for e in cfg.entries:
        if isinstance(e, BuiltinEntry) and e.models:
            try:
                check_models(e.models, "")
            except ParameterError as exc:  # it lists the known models
                raise ConfigError(f"{cfg.source}: {e.label}: models: {exc}") from None
        if isinstance(e, SubmissionEntry) and e.settings.memory_mb > total_mb:
            raise ConfigError(
                f"{cfg.source}: {e.label}: memory_mb = {e.settings.memory_mb} is more than this machine "
                f"has ({total_mb} MiB); lower it"
            )


__all__ = ["check_runnable"]
