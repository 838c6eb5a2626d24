"""Session build of a compiled source graph: ORT optimising the graph itself (what every run did before
issue 25) against loading ORT's optimised file from the cache (models/optimized.py), alternated in one
process, same options as the attacks' sessions (graph/runner.py). The graphs are the attacks' own
(the fused MI-FGSM step at batch 25 on 299² inputs), compiled first if the cache lacks them.

``python benches/bench_session_build.py --model lite0|ensemble --repeats 5`` prints one JSON line:
seconds per build, each way, their medians and the load average. Target (issue 25): a second run's
session build ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from advengine.attacks.sources import MAX_GRAPH_BATCH, get_source
from advengine.context import RunContext
from advengine.models.optimized import optimized_session
from torch_peer import MEMBERS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["lite0", "ensemble"], default="lite0")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import onnxruntime as ort

    models = MEMBERS[:1] if args.model == "lite0" else MEMBERS
    ctx = RunContext(providers=("CPUExecutionProvider",))
    graph = get_source(models, context=ctx)._graph(MAX_GRAPH_BATCH, "mifgsm")

    def options() -> Any:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.enable_mem_pattern = False
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    def build(what: str | bytes, opts: Any) -> Any:
        return ort.InferenceSession(what, opts, providers=["CPUExecutionProvider"])

    plain, cached = [], []
    with tempfile.TemporaryDirectory() as cache:
        optimized_session(graph, options, ["CPUExecutionProvider"], build, Path(cache))  # writes the file
        for _ in range(args.repeats):
            t = time.perf_counter()
            build(str(graph), options())
            plain.append(round(time.perf_counter() - t, 3))
            t = time.perf_counter()
            optimized_session(graph, options, ["CPUExecutionProvider"], build, Path(cache))
            cached.append(round(time.perf_counter() - t, 3))
    print(
        json.dumps(
            {
                "model": args.model,
                "graph_mib": graph.stat().st_size >> 20,
                "optimise_s": plain,
                "from_cache_s": cached,
                "median_optimise_s": statistics.median(plain),
                "median_from_cache_s": statistics.median(cached),
                "load": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
