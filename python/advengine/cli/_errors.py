"""Maps exceptions to one clear line and an exit code. Tracebacks only with ADVENGINE_DEBUG=1."""

from __future__ import annotations

import os

import typer
from rich.console import Console

from advengine.errors import AdvEngineError

#: Exit codes: 1 for errors the user can fix, 70 (EX_SOFTWARE) for bugs, 130 for Ctrl-C.
EXIT_USER = 1
EXIT_BUG = 70
EXIT_INTERRUPT = 130


def debug_enabled() -> bool:
    return os.environ.get("ADVENGINE_DEBUG", "").strip() not in ("", "0", "false", "no")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def run_main(app: typer.Typer, argv: list[str] | None) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
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


__all__ = ["EXIT_BUG", "EXIT_INTERRUPT", "EXIT_USER", "debug_enabled", "run_main"]
