"""Run the sides of a benchmark as fresh processes, alternated (A B C, A B C, ...), each run only when
the machine is quiet, and report medians.

Each side is a command whose last stdout line is a JSON object of its own measurements; the driver
adds the process wall time and the 1-minute load average before and after the run. A run that starts
above ``max_load`` is not taken: the driver waits (up to ``wait_s``) for the load to drop, and if it
does not, the run is taken and marked ``"loaded": true`` so that the report can leave it out.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def wait_for_quiet(max_load: float, wait_s: float) -> bool:
    """True once the 1-minute load average is at most ``max_load``; False after ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    while os.getloadavg()[0] > max_load:
        if time.monotonic() > deadline:
            return False
        time.sleep(5)
    return True


def last_json_object(stdout: str) -> dict[str, Any]:
    """The whole output as one JSON object (an indented one, like ``advengine ... --json``), else the
    last line that is one, else {}."""
    for text in [stdout, *reversed(stdout.strip().splitlines())]:
        try:
            found = json.loads(text)
        except ValueError:
            continue
        if isinstance(found, dict):
            return {k: v for k, v in found.items() if isinstance(v, int | float | str | bool)}
    return {}


def run_once(
    cmd: Sequence[str], max_load: float, wait_s: float, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    quiet = wait_for_quiet(max_load, wait_s)
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run(list(cmd), check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    result = last_json_object(proc.stdout)
    result.update(
        {
            "process_wall_s": round(wall, 3),
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "loaded": not quiet,
        }
    )
    return result


def alternate(
    sides: Mapping[str, Callable[[int], Sequence[str]]],
    repeats: int,
    *,
    max_load: float = 1.0,
    wait_s: float = 600.0,
    log: Callable[[str], None] = print,
) -> dict[str, list[dict[str, Any]]]:
    """``repeats`` rounds; in round r each side's command ``sides[name](r)`` runs once, the order of the
    sides reversed every other round so that neither side always runs first."""
    names = list(sides)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            res = run_once(sides[name](r), max_load, wait_s)
            runs[name].append(res)
            log(f"round {r + 1}/{repeats} {name}: {json.dumps(res)}")
    return runs


def medians(runs: Mapping[str, list[dict[str, Any]]], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per side: the median of each numeric key over the runs not marked loaded (all runs if every run
    was loaded, flagged), and the load range of the runs used."""
    out: dict[str, dict[str, Any]] = {}
    for name, rs in runs.items():
        used = [r for r in rs if not r["loaded"]] or rs
        row: dict[str, Any] = {"runs": len(used), "all_loaded": all(r["loaded"] for r in used)}
        for k in keys:
            vals = [float(r[k]) for r in used if k in r]
            if vals:
                row[k] = round(statistics.median(vals), 3)
        loads = [r["load_before"] for r in used] + [r["load_after"] for r in used]
        row["load"] = f"{min(loads):.2f}-{max(loads):.2f}"
        out[name] = row
    return out
