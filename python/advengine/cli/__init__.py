"""The ``advengine`` command line: one root app, one sub-app per command group.

Commands only parse arguments, call the library and print. :func:`main` turns an
:class:`~advengine.errors.AdvEngineError` into one line on stderr and a non-zero exit code; the
traceback is shown only with ``ADVENGINE_DEBUG=1``.
"""

from __future__ import annotations

from advengine.cli import attack as _attack  # noqa: F401  (registers the command)
from advengine.cli import audit as _audit  # noqa: F401  (registers the command)
from advengine.cli import config as _config  # noqa: F401  (registers the command group)
from advengine.cli import data as _data  # noqa: F401  (registers the command group)
from advengine.cli import defend as _defend  # noqa: F401  (registers the command)
from advengine.cli import doctor as _doctor  # noqa: F401  (registers the command)
from advengine.cli import eval as _eval  # noqa: F401  (registers the command)
from advengine.cli import graph as _graph  # noqa: F401  (registers the command group)
from advengine.cli import list as _list  # noqa: F401  (registers the command)
from advengine.cli import models as _models  # noqa: F401  (registers the command group)
from advengine.cli import report as _report  # noqa: F401  (registers the command)
from advengine.cli import submissions as _submissions  # noqa: F401  (registers the command group)
from advengine.cli import train as _train  # noqa: F401  (registers the command group)
from advengine.cli import train_fcn as _train_fcn  # noqa: F401  (train attack-fcn)
from advengine.cli._app import app
from advengine.cli._errors import run_main


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``advengine`` console script; returns the exit code."""
    return run_main(app, argv)


__all__ = ["app", "main"]
