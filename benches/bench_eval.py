"""``advengine eval`` on the embedded default competition (100 sample images, batches of 25, CPU),
with one worker process against two, same run. Stage times (attack, projection, IO, defense, scoring)
are stored in each benchmark's ``extra_info``.

Run: ``pytest benches/bench_eval.py --benchmark-only -s``. Figures go in docs/benchmarks.md,
"advengine eval". One round each: a whole competition is minutes of CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from advengine.competition import ProcessExecutor, Results, load_config, run_competition


@pytest.mark.parametrize("workers", [1, 2])
def test_default_competition(benchmark: Any, tmp_path: Path, workers: int) -> None:
    cfg = load_config()
    outs = iter(range(100))

    def run() -> Results:
        ex = ProcessExecutor(workers, time_limit=cfg.time_limit, plugins=cfg.plugins)
        return run_competition(cfg, tmp_path / f"run{next(outs)}", executor=ex)

    results = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update({k: round(v, 3) for k, v in results.timings.items()})
    benchmark.extra_info["roster"] = [x.name for x in results.attacks + results.defenses]
    print(f"\nworkers={workers}", {k: round(v, 2) for k, v in results.timings.items()})
    # The run must be a complete one to be worth timing.
    assert all(x.pieces["ok"] == 4 for x in results.attacks)
    assert not results.exclusions
