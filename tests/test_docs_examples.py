"""Every example of the docs (``docs/*.md``) and of the README is checked, so the docs cannot drift from
the code:

* ``python`` blocks run, in order, in one namespace per page, in a temporary working directory. A
  block that cannot run here (a GPU, a server, the user's own files, minutes of work) says so on the
  line just before it, ``<!-- not run: REASON -->`` (hidden in the rendered page); it is still
  compiled, its ``advengine`` imports are made, every ``advengine`` name it reaches through them must
  exist, and every call of one is bound to that callable's signature (the number and names of its
  arguments), so a renamed function or keyword fails here too.
* ``bash`` blocks: every ``advengine …`` command goes through that command's own click parser (the
  one its ``--help`` describes): the sub-command exists, every option is one it accepts, with a value
  where it takes one, the values of typed options (numbers, choices) convert, and there are no extra
  arguments. Synopsis notation is read as such: ``[…]`` optional parts, ``a|b`` alternatives,
  upper-case placeholders, ``...``. ``python benches/X.py`` commands name a script that exists and
  options it defines or documents; ``make T`` a target of the Makefile. Other programs (``ray``,
  ``pip``) are not checked.
* every fenced block names its language, so no example escapes these checks by being unlabelled
  (``text`` is other libraries' code, shown for comparison).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from advengine.cli import app

REPO = Path(__file__).resolve().parent.parent
PAGES = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
SHELL = {"bash", "sh", "console"}
#: Languages of blocks that are not run or parsed: data formats, diagrams, other libraries' code.
NOT_CODE = {"text", "mermaid", "json", "jsonc", "toml"}
FENCE = re.compile(r"^```(\S*)\s*$")
NOT_RUN = re.compile(r"^<!-- not run: (?P<reason>\S.*\S) -->$")


@dataclass(frozen=True)
class Block:
    page: Path
    #: 1-based line of the opening fence.
    line: int
    lang: str
    code: str
    #: Why the block is not run (the marker on the line before it), or None.
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and lines[i] != "```":
            i += 1
        assert i < len(lines), f"{page.relative_to(REPO)}:{start + 1}: fence never closed"
        marker = NOT_RUN.match(lines[start - 1]) if start > 0 else None
        code = "\n".join(lines[start + 1 : i]) + "\n"
        found.append(Block(page, start + 1, m.group(1), code, marker.group("reason") if marker else None))
        i += 1
    return found


BLOCKS = [b for page in PAGES for b in blocks(page)]


def test_every_block_names_a_known_language() -> None:
    unknown = [
        f"{b.where} ({b.lang or 'no language'})"
        for b in BLOCKS
        if b.lang not in {"python", *SHELL, *NOT_CODE}
    ]
    assert not unknown, f"label these blocks python, bash or text (or a data format): {unknown}"


def test_not_run_markers_stand_before_python_blocks() -> None:
    # A marker anywhere else would be a reason that excuses nothing.
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if line.startswith("<!-- not run"):
                assert NOT_RUN.match(line), f"{page.name}:{n + 1}: write `<!-- not run: REASON -->`"
                follows = lines[n + 1] if n + 1 < len(lines) else ""
                assert follows == "```python", f"{page.name}:{n + 1}: the marker must precede a python block"


def test_the_checks_have_examples_to_check() -> None:
    # The parametrised tests below would pass vacuously on an empty list.
    assert len([b for b in BLOCKS if b.lang == "python" and b.not_run is None]) >= 10
    assert len(SHELL_COMMANDS) >= 80
    assert any(b.not_run for b in BLOCKS)


# --- python -------------------------------------------------------------------------------------------

PYTHON_PAGES = sorted({b.page for b in BLOCKS if b.lang == "python"}, key=str)


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=[p.name for p in PYTHON_PAGES])
def test_every_python_example_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for b in (b for b in BLOCKS if b.page == page and b.lang == "python"):
        if b.not_run is not None:
            check_without_running(b)
            continue
        try:
            exec(compile(b.code, b.where, "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{b.where}: python block failed: {exc!r}\n{b.code}") from exc


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None for anything else (a call's result, a subscript)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _imported(tree: ast.Module, where: str) -> dict[str, Any]:
    """The names the block's ``advengine`` imports bind, imported for real (each must exist)."""
    names: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "advengine":
                    module = importlib.import_module(alias.name)
                    top = alias.name.split(".")[0]
                    names[alias.asname or top] = module if alias.asname else importlib.import_module(top)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "advengine":
            assert node.module is not None
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    importlib.import_module(f"{node.module}.{alias.name}")  # a sub-module
                assert hasattr(module, alias.name), f"{where}: {node.module} has no {alias.name}"
                names[alias.asname or alias.name] = getattr(module, alias.name)
    return names


def check_without_running(b: Block) -> None:
    tree = ast.parse(b.code, b.where)
    names = _imported(tree, b.where)
    calls = {id(n.func): n for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute | ast.Name) or isinstance(
            getattr(node, "ctx", None), ast.Store
        ):
            continue
        chain = _dotted(node)
        if chain is None or chain[0] not in names:
            continue
        obj = names[chain[0]]
        for k, attr in enumerate(chain[1:], 1):
            assert hasattr(obj, attr), f"{b.where}: {'.'.join(chain[: k + 1])} does not exist"
            obj = getattr(obj, attr)
        call = calls.get(id(node))
        if call is not None:
            _bind(obj, call, ".".join(chain), b.where)


def _bind(func: Any, call: ast.Call, name: str, where: str) -> None:
    """Bind the call's arguments (their number and keywords) to ``func``'s signature."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return  # *args / **kwargs: the count is not known here
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return  # a builtin without a text signature
    try:
        signature.bind(*call.args, **{k.arg: k.value for k in call.keywords if k.arg is not None})
    except TypeError as exc:
        raise AssertionError(f"{where}: {name}{signature} does not take this call: {exc}") from None


def test_a_block_that_is_not_run_is_still_checked() -> None:
    # The checker itself finds a missing name and a wrong keyword.
    page = REPO / "docs" / "kernels.md"
    bad_name = Block(page, 1, "python", "from advengine import kernels as k\nk.no_such_kernel(x)\n", "test")
    with pytest.raises(AssertionError, match=r"k\.no_such_kernel does not exist"):
        check_without_running(bad_name)
    bad_keyword = Block(
        page, 1, "python", "from advengine.data import load_dataset\nload_dataset(p, nope=1)\n", "t"
    )
    with pytest.raises(AssertionError, match="does not take this call"):
        check_without_running(bad_keyword)
    with pytest.raises(ModuleNotFoundError):
        check_without_running(Block(page, 1, "python", "from advengine.nowhere import x\n", "test"))


# --- shell --------------------------------------------------------------------------------------------

#: A synopsis placeholder: FILE.onnx, DIR, R,G,B, HEAD_IP:6379 (not a real value to type-check).
PLACEHOLDER = re.compile(r"^(\.\.\.|.*\|.*|[A-Z][A-Z0-9_]*([.,:][A-Za-z0-9_]*)*)$|.*[A-Z]{2,}")
WRAPPERS = {"time", "/usr/bin/time", "env", "nohup"}


@dataclass(frozen=True)
class Command:
    where: str
    argv: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.where} {' '.join(self.argv[:3])}"


#: ``page:line`` of indented shell lines that continue no command: each would be read as a command of
#: its own (a synopsis wrapped without ``\\``), so its options would go unchecked.
LOOSE_LINES: list[str] = []


def _logical_lines(b: Block) -> Iterator[tuple[int, str]]:
    """(line number, text) of each command line, continuations joined."""
    pending, first = "", 0
    for n, raw in enumerate(b.code.splitlines(), b.line + 1):
        line = raw.removeprefix("$ ")
        if not pending:
            first = n
            stripped = line.strip()
            if line[:1].isspace() and stripped and not stripped.startswith("#"):
                LOOSE_LINES.append(f"{b.page.relative_to(REPO)}:{n}")
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield first, pending + line
        pending = ""


def _segments(tokens: list[str]) -> Iterator[list[str]]:
    """The simple commands of a line (split at pipes and ``&&``/``;`` outside synopsis brackets), with
    brackets, synopsis bars and redirections taken out."""
    depth, current = 0, []
    skip_next = False
    for token in tokens:
        opens, closes = token.count("["), token.count("]")
        if token in {"|", "&&", "||", ";"} and depth == 0:
            yield current
            current = []
            continue
        depth += opens - closes
        if skip_next:
            skip_next = False
            continue
        if token in {">", ">>", "<", "2>"}:
            skip_next = True
            continue
        if re.match(r"^\d*>", token):  # 2>&1, >out
            continue
        bare = token.strip("[]")
        if bare and bare != "|":
            current.append(bare)
    yield current


def shell_commands(b: Block) -> Iterator[tuple[int, list[str]]]:
    """(line, argv) of every simple command of a shell block, without ``VAR=value`` prefixes and
    wrappers such as ``/usr/bin/time -v``."""
    for n, line in _logical_lines(b):
        for segment in _segments(shlex.split(line, comments=True)):
            while segment and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", segment[0]):
                segment = segment[1:]
            if segment and segment[0] in WRAPPERS:
                segment = segment[1:]
                while segment and segment[0].startswith("-"):
                    segment = segment[1:]
            if segment:
                yield n, segment


def _advengine_argv(segment: list[str]) -> list[str] | None:
    if Path(segment[0]).name == "advengine":
        return segment[1:]
    if segment[:3] in (["python", "-m", "advengine"], ["python3", "-m", "advengine"]):
        return segment[3:]
    return None


def _commands() -> tuple[list[Command], list[Command]]:
    """The ``advengine`` commands of every shell block, and the other programs' commands."""
    ours: list[Command] = []
    others: list[Command] = []
    for b in BLOCKS:
        if b.lang not in SHELL:
            continue
        for n, segment in shell_commands(b):
            where = f"{b.page.relative_to(REPO)}:{n}"
            argv = _advengine_argv(segment)
            if argv is not None:
                ours.append(Command(where, tuple(argv)))
            else:
                others.append(Command(where, tuple(segment)))
    return ours, others


SHELL_COMMANDS, OTHER_COMMANDS = _commands()


def test_wrapped_commands_continue_with_a_backslash() -> None:
    assert not LOOSE_LINES, f"end the line before each of these with `\\`: {LOOSE_LINES}"


def parse_advengine(argv: list[str]) -> None:
    """Parse ``advengine ARGV`` the way click would, sub-command by sub-command; AssertionError with
    the reason when it does not."""
    cmd: Any = get_command(app)
    path = ["advengine"]
    while True:
        ctx = cmd.context_class(cmd, info_name=path[-1], resilient_parsing=False)
        parser = cmd.make_parser(ctx)
        if hasattr(cmd, "list_commands"):
            # A group: its own options, then the sub-command.
            parser.allow_interspersed_args = False
        try:
            opts, rest, _ = parser.parse_args(list(argv))
        except Exception as exc:  # click's UsageError family
            raise AssertionError(f"`{' '.join(path)}` does not parse {argv}: {exc}") from None
        for param in cmd.get_params(ctx):
            value = opts.get(param.name)
            if value is None or getattr(param, "is_flag", False) or param.param_type_name != "option":
                continue
            values = value if isinstance(value, list | tuple) else [value]
            if any(PLACEHOLDER.match(str(v)) for v in values) or "Path" in repr(
                param.type_descriptor.annotation
            ):
                continue  # a placeholder, or a path that need not exist here
            try:  # typer's own conversion of the option's value: numbers, ranges, choices
                param.get_runtime_param().coerce(value, param=param, ctx=ctx)
            except Exception as exc:
                raise AssertionError(f"`{' '.join(path)}`: {param.opts[0]} {value!r}: {exc}") from None
        if not hasattr(cmd, "list_commands"):
            extra = [t for t in rest if t != "..."]
            assert not extra, f"`{' '.join(path)}` takes no extra arguments, got {extra}"
            missing = [
                p.opts[0] if p.param_type_name == "option" else p.name
                for p in cmd.get_params(ctx)
                if p.required and opts.get(p.name) in (None, ()) and not p.envvar
            ]
            assert "help" in opts or not missing, f"`{' '.join(path)}` is missing {missing}"
            return
        if not rest:
            assert "help" in opts or "version" in opts or path == ["advengine"], f"`{' '.join(path)}` alone"
            return
        name, argv = rest[0], rest[1:]
        sub = cmd.get_command(ctx, name)
        assert sub is not None, f"`{' '.join(path)}` has no command {name!r}"
        cmd, path = sub, [*path, name]


@pytest.mark.parametrize("command", SHELL_COMMANDS, ids=[c.id for c in SHELL_COMMANDS])
def test_every_advengine_command_parses(command: Command) -> None:
    try:
        parse_advengine(list(command.argv))
    except AssertionError as exc:
        raise AssertionError(f"{command.where}: {exc}") from None


def test_the_parser_refuses_what_the_cli_would() -> None:
    parse_advengine(["audit", "median", "--data", "DIR", "--budget", "fast", "--limit", "N"])
    for wrong, why in [
        (["audit", "median", "--no-such-option"], "No such option"),
        (["audit", "median", "--eps", "0"], "greater than or equal to 1"),
        (["audit", "median", "--eps"], "requires an argument"),
        (["audit", "median", "--eps", "sixteen"], "sixteen"),
        (["attack"], "missing"),
        (["models"], "alone"),
        (["nosuch"], "has no command"),
        (["list", "extra"], "no extra arguments"),
        (["models", "list", "--bogus"], "No such option"),
    ]:
        with pytest.raises(AssertionError, match=why):
            parse_advengine(wrong)


def _make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^([A-Za-z0-9_.-]+):", text, re.MULTILINE)}


@pytest.mark.parametrize("command", OTHER_COMMANDS, ids=[c.id for c in OTHER_COMMANDS])
def test_scripts_and_targets_the_docs_name_exist(command: Command) -> None:
    argv = list(command.argv)
    if argv[0] in {"python", "python3"} and len(argv) > 1 and argv[1].endswith(".py"):
        script = REPO / argv[1]
        assert script.is_file(), f"{command.where}: {argv[1]} does not exist"
        source = script.read_text(encoding="utf-8")
        for option in (t.split("=")[0] for t in argv[2:] if t.startswith("--")):
            # Defined (argparse) or documented (a script that passes options on) in the script.
            assert re.search(rf"(?<![\w-]){option}(?![\w-])", source), (
                f"{command.where}: {argv[1]} has no {option}"
            )
    elif argv[0] == "make":
        for target in argv[1:]:
            assert target in _make_targets(), f"{command.where}: the Makefile has no target {target}"
