"""Every ``python`` code block of the API pages runs, in order, in one namespace per page: the docs
cannot drift from the code (``text`` blocks are other libraries' code, shown for comparison)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["api.md", "coming-from.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(page: str) -> list[str]:
    return BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES)
def test_every_example_runs(page: str) -> None:
    found = blocks(page)
    assert found, f"docs/{page} has no python examples"
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for i, code in enumerate(found, 1):
        try:
            exec(compile(code, f"docs/{page} block {i}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"docs/{page}, python block {i} failed: {exc!r}\n{code}") from exc
