"""Logs are capped per stream per batch, head and tail kept, streamed (a flood does not fill memory)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from advengine.submissions import Settings
from advengine.submissions.logs import LOG_CAP, CappedLog, marker

from .conftest import RunSub, WriteSub

FLOOD = r"""
import os, shutil, sys
for n in os.listdir(sys.argv[1]):
    shutil.copy(os.path.join(sys.argv[1], n), sys.argv[2])
line = b"y" * 1023 + b"\n"
for stream in (sys.stdout.buffer, sys.stderr.buffer):
    stream.write(b"FIRST LINE\n")
    for _ in range(20 * 1024):  # 20 MiB per stream
        stream.write(line)
    stream.write(b"LAST LINE\n")
    stream.flush()
"""


def test_a_log_flood_is_capped_with_head_tail_and_marker(
    write_sub: WriteSub, settings: Settings, run_sub: RunSub, tmp_path: Path
) -> None:
    sub = write_sub("flood", FLOOD)
    outputs, run = run_sub(sub, dataclasses.replace(settings, time_limit=60.0))
    assert run.status == "ok"
    assert all(o is not None for o in outputs)
    for name in ("stdout.txt", "stderr.txt"):
        data = (tmp_path / "l" / name).read_bytes()
        assert len(data) <= LOG_CAP + 200
        assert data.startswith(b"FIRST LINE\n")
        assert data.endswith(b"LAST LINE\n")
        assert b"bytes left out here" in data


def test_capped_log_keeps_everything_under_the_cap(tmp_path: Path) -> None:
    r, w = os.pipe()
    log = CappedLog(os.fdopen(r, "rb"), tmp_path / "out.txt", cap=100)
    os.write(w, b"a" * 40 + b"b" * 10)
    os.close(w)
    log.finish()
    assert (tmp_path / "out.txt").read_bytes() == b"a" * 40 + b"b" * 10
    assert log.dropped == 0


def test_capped_log_drops_the_middle(tmp_path: Path) -> None:
    r, w = os.pipe()
    log = CappedLog(os.fdopen(r, "rb"), tmp_path / "out.txt", cap=100)
    os.write(w, b"h" * 50 + b"m" * 1000 + b"t" * 50)
    os.close(w)
    log.finish()
    assert (tmp_path / "out.txt").read_bytes() == b"h" * 50 + marker(1000) + b"t" * 50
