"""Peak memory of ``advengine audit`` (issue 26: ≤ 3 GB at any ``--limit``), as a user runs it.

Runs ``advengine audit DEFENSE ARGS…`` in a fresh process under ``/usr/bin/time -v`` and samples, every
``--every`` seconds, the RSS of that process and the load average, so the peak can be placed in the
audit's stages (its progress lines and its report go to the ``--trace`` file with the samples). Prints
one JSON line: the command, exit code, wall, peak RSS from ``time -v`` and from the samples, the load
average (min, max, mean over the samples) and the audit's clean and robust accuracy.

The issue's case, at two limits (the peak must not grow with ``--limit``; docs/benchmarks.md, "Audit
memory")::

    python benches/audit_memory.py random-resize-pad --models efficientnet-lite2 --eps 16 --limit 10 \\
        --budget fast --data ../shared/data/nips17_dev --trace audit10.log
    python benches/audit_memory.py random-resize-pad --models efficientnet-lite2 --eps 16 --limit 50 \\
        --budget fast --data ../shared/data/nips17_dev --trace audit50.log

Every argument after the defense goes to ``advengine audit`` as is, except ``--every`` and ``--trace``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

GIB = 1024**3


def _split(argv: list[str]) -> tuple[list[str], float, Path | None]:
    """The audit's own arguments, the sampling interval and the trace file."""
    every, trace, rest = 2.0, None, []
    it = iter(argv)
    for arg in it:
        if arg == "--every":
            every = float(next(it))
        elif arg == "--trace":
            trace = Path(next(it))
        else:
            rest.append(arg)
    return rest, every, trace


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    args, every, trace = _split(argv)
    timer = shutil.which("time") or "/usr/bin/time"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.md"
        timings = Path(tmp) / "time.txt"
        # Not --json: that silences the progress lines the trace places the peak with.
        audit = [sys.executable, "-m", "advengine", "audit", *args, "--out", str(report)]
        cmd = [timer, "-v", "-o", str(timings), *audit]
        samples: list[tuple[float, int, float]] = []
        t0 = time.perf_counter()
        with open(os.devnull, "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
            reader.start()
            while proc.poll() is None:
                rss = 0
                with contextlib.suppress(psutil.Error):  # between time's exec and python's, or at exit
                    rss = sum(c.memory_info().rss for c in psutil.Process(proc.pid).children(recursive=True))
                samples.append((time.perf_counter() - t0, rss, os.getloadavg()[0]))
                time.sleep(every)
            reader.join()
        wall = time.perf_counter() - t0
        text = timings.read_text() if timings.is_file() else ""
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        peak_kb = int(found.group(1)) if found else None
        markdown = report.read_text() if report.is_file() else ""
        accuracy = re.search(r"Clean accuracy ([\d.]+) %.*?failed\) ([\d.]+) %", markdown)
    if trace is not None:
        trace.write_text(
            "".join(f"{t:8.1f} s  rss {rss / GIB:6.3f} GiB  load {load:5.2f}\n" for t, rss, load in samples)
            + "".join(lines)
            + markdown
        )
    loads = [load for _, _, load in samples]
    print(
        json.dumps(
            {
                "command": "advengine audit " + " ".join(args),
                "exit": proc.returncode,
                "wall_s": round(wall, 1),
                "peak_rss_kb_time_v": peak_kb,
                "peak_rss_gib_time_v": round(peak_kb / 1024**2, 3) if peak_kb else None,
                "peak_rss_gib_sampled": round(max((r for _, r, _ in samples), default=0) / GIB, 3),
                "load_min_max_mean": [
                    round(min(loads), 2),
                    round(max(loads), 2),
                    round(sum(loads) / len(loads), 2),
                ]
                if loads
                else None,
                "clean_accuracy_pct": float(accuracy.group(1)) if accuracy else None,
                "robust_accuracy_pct": float(accuracy.group(2)) if accuracy else None,
                "stderr_tail": [] if proc.returncode == 0 else lines[-5:],
            }
        )
    )
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
