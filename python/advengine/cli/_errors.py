"""Maps exceptions to one clear line and an exit code. Tracebacks only with ADVENGINE_DEBUG=1."""

from __future__ import annotations

import typer
from rich.markup import escape

from advengine.cli._options import stderr_console
from advengine.env import debug_enabled
from advengine.errors import AdvEngineError

#: Exit codes: 1 for errors the user can fix, 70 (EX_SOFTWARE) for bugs, 130 for Ctrl-C.
EXIT_USER = 1
EXIT_BUG = 70
EXIT_INTERRUPT = 130


def _one_line(exc: BaseException) -> str:
    # Escaped: messages name things like advengine[ray] that rich would take for markup.
    text = " ".join(str(exc).split())
    return escape(text or type(exc).__name__)


def run_main(app: typer.Typer, argv: list[str] | None) -> int:
    err = stderr_console()
    try:
        app(args=argv, prog_name="advengine")
    except SystemExit as stop:
        code = stop.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USER)
    except AdvEngineError as exc:
        if debug_enabled():
            raise
        err.print(f"[bold red]error:[/] {_one_line(exc)}", markup=True)
        return EXIT_USER
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPT
    except Exception as exc:
        if debug_enabled():
            raise
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {_one_line(exc)} "
            "(rerun with ADVENGINE_DEBUG=1 for the traceback and please report it)",
            markup=True,
        )
        return EXIT_BUG
    return 0


__all__ = ["EXIT_BUG", "EXIT_INTERRUPT", "EXIT_USER", "run_main"]
