"""The docs name no path of one machine (a checkout under /work, root's home, a scratch file in /tmp):
commands in them must run on a reader's machine as written."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|root|tmp)/")


def test_docs_name_no_machine_paths() -> None:
    found = [
        f"{doc.relative_to(REPO)}:{n}: {line.strip()}"
        for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        if MACHINE_PATH.search(line)
    ]
    assert not found, "\n".join(found)
