"""Maps exceptions to one clear line and an exit code. Tracebacks only with ADVENGINE_DEBUG=1."""

from __future__ import annotations

import errno
import shlex
import sys

import typer
from rich.markup import escape

from advengine.cli._options import stderr_console
from advengine.env import debug_enabled
from advengine.errors import AdvEngineError

#: Exit codes: 1 for errors the user can fix, 3 for a finished run with failed pieces under --strict,
#: 70 (EX_SOFTWARE) for bugs, 130 for Ctrl-C.
EXIT_USER = 1
EXIT_INCOMPLETE = 3
EXIT_BUG = 70
EXIT_INTERRUPT = 130


class Interrupted(Exception):  # noqa: N818  (it is the event, not an error)
    """Ctrl-C in a command whose work survives it: ``kept`` says what was kept ("12 pieces kept in
    runs/a"); ``flag`` is the option that continues (``--resume``), or None when running the same
    command again continues. Not a KeyboardInterrupt: click would swallow that into a bare exit 130."""

    def __init__(self, kept: str, flag: str | None = "--resume") -> None:
        super().__init__(kept)
        self.kept = kept
        self.flag = flag


def resume_command(argv: list[str], flag: str | None) -> str:
    """The command line that continues an interrupted one: the same arguments, plus ``flag``."""
    args = list(argv)
    if flag is not None and flag not in args:
        args.append(flag)
    return shlex.join(["advengine", *args])


def _one_line(exc: BaseException) -> str:
    # Escaped: messages name things like advengine[ray] that rich would take for markup.
    text = " ".join(str(exc).split())
    return escape(text or type(exc).__name__)


#: What the user can do about an OSError, by errno.
_OS_HINTS = {
    errno.EROFS: "the file system is read-only; choose another location (e.g. --out)",
    errno.ENOSPC: "no space left on the device; free some space or choose another location",
    errno.EDQUOT: "the disk quota is exceeded; free some space or choose another location",
    errno.EACCES: "permission denied; choose a location you may write to, or fix its permissions",
    errno.EPERM: "operation not permitted; choose a location you may write to, or fix its permissions",
    errno.ENOENT: "it does not exist; check the path",
    errno.ENOTDIR: "a part of the path is not a directory; check the path",
    errno.EISDIR: "it is a directory; give a file",
}


def os_error_line(exc: OSError) -> str | None:
    """One line for an OSError on a path the user gave (read-only, full disk, permissions, ...), or None
    for one that names no path and is no full disk: that one is a bug."""
    path = exc.filename
    if path is None and exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    hint = _OS_HINTS.get(exc.errno or -1, exc.strerror or type(exc).__name__)
    where = f"{path}: " if path is not None else ""
    other = f" (and {exc.filename2})" if exc.filename2 is not None else ""
    return f"{where}{hint}{other}"


def run_main(app: typer.Typer, argv: list[str] | None) -> int:
    err = stderr_console()
    try:
        app(args=argv, prog_name="advengine")
    except Interrupted as stop:
        command = resume_command(sys.argv[1:] if argv is None else argv, stop.flag)
        err.print(f"interrupted; {stop.kept}; resume with `{command}`", markup=False)
        return EXIT_INTERRUPT
    except SystemExit as stop:
        code = stop.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USER)
    except AdvEngineError as exc:
        if debug_enabled():
            raise
        err.print(f"[bold red]error:[/] {_one_line(exc)}", markup=True)
        return EXIT_USER
    except OSError as exc:
        if debug_enabled():
            raise
        line = os_error_line(exc)
        if line is None:
            return _internal(exc)
        err.print(f"[bold red]error:[/] {escape(line)}", markup=True)
        return EXIT_USER
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPT
    except Exception as exc:
        if debug_enabled():
            raise
        return _internal(exc)
    return 0


def _internal(exc: BaseException) -> int:
    stderr_console().print(
        f"[bold red]internal error:[/] {type(exc).__name__}: {_one_line(exc)} "
        "(rerun with ADVENGINE_DEBUG=1 for the traceback and please report it)",
        markup=True,
    )
    return EXIT_BUG


__all__ = [
    "EXIT_BUG",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPT",
    "EXIT_USER",
    "Interrupted",
    "os_error_line",
    "resume_command",
    "run_main",
]
