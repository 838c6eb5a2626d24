"""The ``advengine`` command line: one root app, one sub-app per command group.

Commands only parse arguments, call the library and print. :func:`main` turns an
:class:`~advengine.errors.AdvEngineError` into one line on stderr and a non-zero exit code; the
traceback is shown only with ``ADVENGINE_DEBUG=1``. Command modules are imported when their command
runs (``cli/_lazy.py``), so ``advengine --version`` and ``--help`` start without ONNX Runtime.
"""

from __future__ import annotations

from advengine.cli._app import app
from advengine.cli._errors import run_main


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``advengine`` console script; returns the exit code."""
    return run_main(app, argv)


__all__ = ["app", "main"]
