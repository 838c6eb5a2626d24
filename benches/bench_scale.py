"""The Ray executor at scale, simulated: stand-in pieces of known cost on 1, 2, 4, 8 local Ray nodes.

A stand-in attack and defense burn a fixed amount of CPU time per piece (``--work`` seconds). Each
node of a ``ray.cluster_utils.Cluster`` has one CPU, so K nodes run K pieces at once. Per node count:

- overhead per piece: the wall time of ``--pieces`` zero-work pieces on that cluster divided by their
  count, after one warm-up piece per node (the warm worker and its spawned piece process exist);
- scaling efficiency: ``pieces × work / (K × wall)`` for pieces of ``--work`` seconds.

Then the NIPS 2017 final round projected on K GPU nodes from the round's counts (see
docs/benchmarks.md, "Ray executor at scale"). Run from the repository root:

    python benches/bench_scale.py --nodes 1,2,4,8 --pieces 16 --work 0.5 --json scale.json

On a machine with fewer cores than nodes, the efficiency figures measure the machine, not Ray: say so
with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import ray
from ray.cluster_utils import Cluster

from advengine.competition import Job, Outcome, PieceId
from advengine.competition.pieces import AttackInputs
from advengine.competition.ray_executor import RayExecutor, local_runtime_env
from advengine.types import BuiltinEntry
from scale_standins import BurnParams

#: The stand-in attack's module; Ray workers import it by this name (this script's directory is on
#: their path through local_runtime_env).
PLUGIN = "scale_standins"


def _jobs(count: int, seconds: float, images: int, tag: str) -> list[Job]:
    entry = BuiltinEntry(
        track="nontargeted", name="bench-burn", label=f"burn-{tag}", params=BurnParams(seconds=seconds)
    )
    batch = np.zeros((images, 299, 299, 3), dtype=np.uint8)  # a NIPS 2017 batch is 100 such images

    def job(k: int) -> Job:
        piece = PieceId.of_attack(entry.label, k)
        return Job(piece, entry, lambda: AttackInputs(batch, 16, None, k, piece))

    return [job(k) for k in range(count)]


def _timed(executor: RayExecutor, jobs: list[Job]) -> tuple[float, float]:
    """Wall time and the driver's own CPU time (the serial part of a piece's cost)."""
    outcomes: list[Outcome] = []
    start, cpu = time.perf_counter(), time.process_time()
    executor.run(jobs, lambda job, outcome: outcomes.append(outcome))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    bad = [o.error for o in outcomes if o.status != "ok"]
    if bad:
        raise SystemExit(f"pieces failed: {bad[:3]}")
    return wall, cpu


@contextmanager
def cluster(nodes: int) -> Iterator[None]:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(nodes - 1):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False, runtime_env=local_runtime_env())
    try:
        yield
    finally:
        ray.shutdown()
        c.shutdown()


def measure(nodes: int, pieces: int, work: float, images: int) -> dict[str, Any]:
    start = time.perf_counter()
    with cluster(nodes):
        up = time.perf_counter() - start
        executor = RayExecutor(plugins=(PLUGIN,), time_limit=600.0)
        _timed(executor, _jobs(nodes, 0.0, images, "warm"))  # one warm worker per node
        idle, driver = _timed(executor, _jobs(pieces, 0.0, images, "zero"))
        busy, _ = _timed(executor, _jobs(pieces, work, images, "work"))
    return {
        "nodes": nodes,
        "cluster_start_s": round(up, 2),
        "overhead_per_piece_ms": round(1000 * idle / pieces, 1),
        "driver_cpu_per_piece_ms": round(1000 * driver / pieces, 1),
        "wall_s": round(busy, 2),
        "ideal_s": round(pieces * work / nodes, 2),
        "efficiency": round(pieces * work / (nodes * busy), 3),
    }


#: NIPS 2017 final round (Kurakin et al. 2018): submissions per track, and the 5000-image FINAL set in
#: 50 batches of 100 (docs nips17_protocol §5.2).
FINAL = {"nontargeted": 91, "targeted": 65, "defenses": 107, "batches": 50}


def project(nodes: int, attack_s: float, defense_s: float, overhead_s: float, efficiency: float) -> float:
    """Hours for the final round on ``nodes`` GPU nodes running one piece each at a time."""
    attacks = (FINAL["nontargeted"] + FINAL["targeted"]) * FINAL["batches"]
    defenses = FINAL["defenses"] * attacks  # every defense on every adversarial batch
    work = attacks * attack_s + defenses * defense_s
    return (work / efficiency + (attacks + defenses) * overhead_s) / nodes / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,2,4,8", help="node counts, comma-separated")
    parser.add_argument("--pieces", type=int, default=16)
    parser.add_argument("--work", type=float, default=0.5, help="CPU seconds per piece")
    parser.add_argument("--images", type=int, default=10, help="299x299 images per batch sent")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    rows = []
    for k in (int(n) for n in args.nodes.split(",")):
        row = measure(k, args.pieces, args.work, args.images)
        print(json.dumps(row), flush=True)
        rows.append(row)
    load = os.getloadavg()
    report = {"machine": {"cpus": os.cpu_count(), "loadavg": [round(v, 2) for v in load]}, "runs": rows}
    print(json.dumps(report["machine"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
