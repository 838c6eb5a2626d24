"""The adaptive section of docs/results.md (issue 16), measured by ``measure_results.py --adaptive``.

Two kinds of rows, on the first DEV images in chunks of CHUNK, every (defense, attack, chunk) cached
with its per-image correctness, seconds and the machine's load average, so a killed run resumes:

* **per attack**: one attack on every image of a chunk: its accuracy and its time per 100 images.
  The costly attacks only reach the first chunks (n = 10 or 20; each cell says its n).
* **the per-image cascade** behind the robust-accuracy column: the defense's clean answers, then the
  attacks of CASCADE in a fixed order (cheapest strong first), each only on the images still
  standing (right when clean and not fooled by any earlier stage). An image is robust only if every
  stage failed on it. Each stage records its own seconds and the images it attacked. Its first stage
  is the per-attack BPDA/EOT-PGD run on every image of the chunk, so that row is at the cascade's n.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advengine.attacks import build_attack
from advengine.attacks.adaptive import spec_params
from advengine.attacks.sources import clear_sources
from advengine.data import load_dataset
from advengine.defenses import build_defense
from results_cache import Cache, pct_ci, wilson

LITE = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
#: The zoo defenses: (label, defense, models); the first four are the issue's targets (the cascade
#: at n = 100), the others get BPDA/EOT-PGD beside their clean accuracy on the first chunk.
ADAPTIVE_DEFENSES: list[tuple[str, str, tuple[str, ...]]] = [
    ("rrp(lite2)", "random-resize-pad", ("efficientnet-lite2",)),
    ("median(lite0)", "median", ("efficientnet-lite0",)),
    ("jpeg(lite1)", "jpeg", ("efficientnet-lite1",)),
    ("bit-depth(lite0)", "bit-depth", ("efficientnet-lite0",)),
    ("lite0", "classifier", ("efficientnet-lite0",)),
    ("resize(lite2)", "resize", ("efficientnet-lite2",)),
    ("drop-resize(lite0)", "drop-resize", ("efficientnet-lite0",)),
    ("ensemble(lite012)", "ensemble", LITE),
    ("erko(lite012)", "erko", LITE),
]
TARGETS = tuple(d[0] for d in ADAPTIVE_DEFENSES[:4])
OTHERS = tuple(d[0] for d in ADAPTIVE_DEFENSES[4:])
ADAPTIVE_EPS = 16
CHUNK = 10
#: EOT draws per gradient step of every adaptive attack (on the randomised rrp; the deterministic
#: pipelines need one).
EOT = 2


@dataclass(frozen=True)
class Run:
    """One attack as measured: a label for the tables, the registered attack and its params;
    ``adaptive`` aims it at the whole pipeline (the defense's spec), else at the base model alone."""

    label: str
    attack: str
    params: dict[str, Any] = field(default_factory=dict)
    adaptive: bool = True


#: Per-attack rows. Iterations and query budgets are cut from the published ones (APGD 100
#: iterations, Square 5000 queries) so that the CPU run reaches images; the cascade runs APGD as
#: published.
PER_ATTACK: list[Run] = [
    Run("pgd[base]", "pgd", adaptive=False),
    Run("bpda/eot-pgd", "eot-pgd", {"iterations": 10, "draws": EOT}),
    Run("apgd-ce", "apgd-ce", {"iterations": 10, "draws": EOT}),
    Run("apgd-dlr", "apgd-dlr", {"iterations": 10, "draws": EOT}),
    Run("apgd-t", "apgd-t", {"iterations": 10, "draws": EOT}),
    Run("square-linf", "square-linf", {"queries": 200}),
    Run("autoattack-lite", "autoattack-lite", {"iterations": 10, "draws": EOT, "queries": 200}),
]
#: The cascade, cheapest strong first; its first stage is the per-attack BPDA/EOT-PGD row.
CASCADE: list[Run] = [
    PER_ATTACK[1],
    Run("apgd-ce×100", "apgd-ce", {"draws": EOT}),
    Run("apgd-dlr×100", "apgd-dlr", {"draws": EOT}),
    Run("square×1000", "square-linf", {"queries": 1000}),
    Run("apgd-t×100", "apgd-t", {"draws": EOT}),
]
RUNS = {r.label: r for r in [*PER_ATTACK, *CASCADE]}
#: The cascade's later stages (published settings) also run alone on every image of a chunk, for
#: their accuracy and time per 100 images where they have images to attack.
PUBLISHED = CASCADE[1:]
ROWS = [*PER_ATTACK, *PUBLISHED]
CASCADE_N = 100

#: The order of work: ("cascade" | per-attack labels, defenses, images to reach). First the new
#: attacks' own rows on one cheap defense (their time per 100 images); then the cascade (the
#: robust-accuracy column at n = 100), the three deterministic pipelines round robin per chunk, then
#: the costly randomised rrp; then the rows the rrp fix (issue 19) invalidated and the other defenses'
#: rows of the new attacks.
Step = tuple[tuple[str, ...], tuple[str, ...], int]
DETERMINISTIC = ("median(lite0)", "bit-depth(lite0)", "jpeg(lite1)")
ADAPTIVE_PLAN: list[Step] = [
    (("apgd-dlr", "apgd-t", "autoattack-lite"), ("median(lite0)",), 10),
    (("cascade",), DETERMINISTIC, CASCADE_N),
    (("pgd[base]",), ("rrp(lite2)",), 10),
    (("cascade",), ("rrp(lite2)",), CASCADE_N),
    (("bpda/eot-pgd",), OTHERS, 10),
    (("apgd-ce", "square-linf"), ("rrp(lite2)",), 10),
    (("apgd-dlr", "apgd-t", "autoattack-lite"), ("bit-depth(lite0)", "jpeg(lite1)", "rrp(lite2)"), 10),
    (("pgd[base]", "apgd-ce", "square-linf"), ("rrp(lite2)",), 20),
    (tuple(r.label for r in PUBLISHED), ("median(lite0)",), 10),
    (tuple(r.label for r in PER_ATTACK), TARGETS, 20),
    (tuple(r.label for r in PUBLISHED), TARGETS, 10),
    (("apgd-dlr", "apgd-t", "autoattack-lite"), TARGETS, 50),
]


def load1() -> float:
    return round(os.getloadavg()[0], 2)


class Measure:
    """One adaptive run: the dataset, the cache and the time budget."""

    def __init__(self, args: argparse.Namespace, cache: Cache) -> None:
        self.ds = load_dataset(args.data).head(args.n)
        assert self.ds.true_labels is not None
        self.truth = self.ds.true_labels
        self.cache = cache
        self.budget_end = time.time() + args.budget
        self.defenses = {label: (name, models) for label, name, models in ADAPTIVE_DEFENSES}

    def spent(self) -> bool:
        return time.time() > self.budget_end

    def defense(self, label: str) -> Any:
        name, models = self.defenses[label]
        return build_defense(name, {}, models)

    def clean_ok(self, label: str, start: int) -> list[bool]:
        key = f"adaptive/{label}/clean/{start}"
        if self.cache.get(key) is None:
            images = self.ds.read_images(start, start + CHUNK)
            ok = self.defense(label)(images, seed=start) == self.truth[start : start + CHUNK]
            self.cache.put(key, {"ok": [bool(v) for v in ok]})
        return list(self.cache.get(key)["ok"])

    def attack(self, label: str, run: Run, start: int, idx: list[int]) -> dict[str, Any]:
        """``run`` on the images ``idx`` of the chunk at ``start``: per-image correctness after it."""
        if not idx:
            return {"idx": [], "ok": [], "seconds": 0.0, "load": load1()}
        d = self.defense(label)
        spec = d.spec()
        assert spec is not None
        _, models = self.defenses[label]
        params = {**(spec_params(spec) if run.adaptive else {}), **run.params}
        clean = self.ds.read_images(start, start + CHUNK)[idx]
        attack = build_attack(run.attack, params, models)
        t = time.time()
        adv = attack(clean, eps=ADAPTIVE_EPS, seed=start)
        seconds = time.time() - t
        assert int(np.abs(adv.astype(np.int16) - clean.astype(np.int16)).max()) <= ADAPTIVE_EPS
        ok = d(adv, seed=start + 1) == self.truth[start : start + CHUNK][idx]
        # Sessions of finished sources hold gigabytes of arena memory; free them before the next.
        del attack
        clear_sources()
        gc.collect()
        return {"idx": idx, "ok": [bool(v) for v in ok], "seconds": seconds, "load": load1()}

    def per_attack(self, label: str, alabel: str, start: int) -> bool:
        """The per-attack entry of one chunk (every image); False when the budget is spent."""
        key = f"adaptive/{label}/{alabel}/{start}"
        if self.cache.get(key) is None:
            if self.spent():
                return False
            n = len(self.ds.read_images(start, start + CHUNK))
            entry = self.attack(label, RUNS[alabel], start, list(range(n)))
            self.cache.put(key, entry)
            print(f"{key}: {sum(entry['ok'])}/{n} correct, {entry['seconds']:.0f} s", flush=True)
        return True

    def cascade(self, label: str, start: int) -> bool:
        """The cascade on one chunk; False when the budget is spent."""
        standing = self.clean_ok(label, start)
        if not self.per_attack(label, CASCADE[0].label, start):
            return False
        first = self.cache.get(f"adaptive/{label}/{CASCADE[0].label}/{start}")["ok"]
        standing = [s and o for s, o in zip(standing, first, strict=True)]
        for run in CASCADE[1:]:
            key = f"adaptive/{label}/cascade/{run.label}/{start}"
            if self.cache.get(key) is None:
                idx = [i for i, s in enumerate(standing) if s]
                if idx and self.spent():
                    return False
                entry = self.attack(label, run, start, idx)
                self.cache.put(key, entry)
                print(f"{key}: {sum(entry['ok'])}/{len(idx)} standing, {entry['seconds']:.0f} s", flush=True)
            entry = self.cache.get(key)
            for i, ok in zip(entry["idx"], entry["ok"], strict=True):
                standing[i] = standing[i] and ok
        return True

    def run(self, plan: list[Step], render: Callable[[], None]) -> None:
        for labels, defenses, reach in plan:
            for start in range(0, min(reach, len(self.ds)), CHUNK):
                for label in defenses:
                    for alabel in labels:
                        if alabel == "cascade":
                            done = self.cascade(label, start)
                        else:
                            self.clean_ok(label, start)
                            done = self.per_attack(label, alabel, start)
                        if not done:
                            print("budget spent; stopping", flush=True)
                            render()
                            return
                render()


def adaptive_main(args: argparse.Namespace, render: Callable[[], None]) -> None:
    cache = Cache(Path(args.cache))
    cache.put(
        "adaptive/meta", {"data": str(args.data), "machine": f"{platform.machine()} {os.cpu_count()} CPUs"}
    )
    Measure(args, cache).run(ADAPTIVE_PLAN, render)
    render()


# ---- rendering ---------------------------------------------------------------------------------------


def entries(cache: Cache, prefix: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(chunk start, entry) of every cached chunk under ``prefix`` (…/label/), in image order."""
    found = [(int(k.rsplit("/", 1)[1]), v) for k, v in cache.data.items() if k.startswith(prefix)]
    yield from sorted(found, key=lambda kv: kv[0])


def oks(cache: Cache, defense: str, alabel: str) -> list[bool]:
    return [b for _, v in entries(cache, f"adaptive/{defense}/{alabel}/") for b in v["ok"]]


def cell(ok: list[bool]) -> str:
    return pct_ci({"correct": sum(ok), "n": len(ok)}) + f" (n={len(ok)})" if ok else "–"


@dataclass
class CascadeResult:
    """The cascade of one defense over the chunks where every stage is done."""

    n: int = 0
    clean: int = 0
    robust: int = 0
    #: Per stage label: images attacked, images still standing after it, seconds.
    attacked: dict[str, int] = field(default_factory=dict)
    standing: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)


def cascade_result(cache: Cache, defense: str) -> CascadeResult:
    r = CascadeResult()
    for start, clean in entries(cache, f"adaptive/{defense}/clean/"):
        first = cache.get(f"adaptive/{defense}/{CASCADE[0].label}/{start}")
        later = [cache.get(f"adaptive/{defense}/cascade/{run.label}/{start}") for run in CASCADE[1:]]
        if start >= CASCADE_N or first is None or any(e is None for e in later):
            continue
        standing = list(clean["ok"])
        r.n += len(standing)
        r.clean += sum(standing)
        # The first stage ran on every image of the chunk; it attacked the cascade's standing ones
        # (its time prorated to them).
        idx = [i for i, s in enumerate(standing) if s]
        share = len(idx) / max(len(first["ok"]), 1)
        stages = [
            (CASCADE[0].label, idx, [first["ok"][i] for i in idx], first["seconds"] * share, first),
            *(
                (run.label, e["idx"], e["ok"], e["seconds"], e)
                for run, e in zip(CASCADE[1:], later, strict=True)
            ),
        ]
        for label, attacked, ok, seconds, e in stages:
            for i, o in zip(attacked, ok, strict=True):
                standing[i] = standing[i] and o
            r.attacked[label] = r.attacked.get(label, 0) + len(attacked)
            r.standing[label] = r.standing.get(label, 0) + sum(standing)
            r.seconds[label] = r.seconds.get(label, 0.0) + seconds
            if "load" in e:
                r.loads.append(float(e["load"]))
        r.robust += sum(standing)
    return r


def all_loads(cache: Cache) -> list[float]:
    return [float(v["load"]) for k, v in cache.data.items() if k.startswith("adaptive/") and "load" in v]


def adaptive_claims(cache: Cache) -> list[str]:
    """One claim per target defense: its robust accuracy under the cascade, beside its accuracy
    against the non-adaptive attack, so that no number elsewhere is read as robustness."""
    out = []
    results = {label: cascade_result(cache, label) for label in TARGETS}
    for label, r in results.items():
        base = oks(cache, label, "pgd[base]")
        if r.n:
            lo, hi = wilson(r.robust, r.n)
            out.append(
                f"* {label} at ε = 16: robust accuracy under the adaptive cascade "
                f"{100 * r.robust / r.n:.0f} % "
                f"[{100 * lo:.0f}–{100 * hi:.0f}] on n = {r.n} DEV images (clean {100 * r.clean / r.n:.0f} %)"
                + (f"; PGD on the base model alone, the transform unknown: {cell(base)}" if base else "")
                + "."
            )
    if results and all(r.n for r in results.values()):
        worst_hi = max(wilson(r.robust, r.n)[1] for r in results.values())
        at_most = all(r.robust / r.n <= 0.10 for r in results.values())
        out.append(
            "* "
            + (
                "Each of the four target defenses falls to ≤ 10 % accuracy under the adaptive attacks at "
                "ε = 16 (issue 16's target)"
                if at_most
                else "Not every target defense falls to ≤ 10 % under the cascade"
            )
            + f"; 95 % upper bounds up to {100 * worst_hi:.0f} % at these n. None of the zoo's transform "
            "defenses is robust on these models: their gains elsewhere in this file hold only against "
            "attackers that ignore the transform."
        )
    return out


def table_row(*cells: object) -> str:
    """One row of a Markdown table; every table of docs/results.md is written with these two."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table_head(*columns: str) -> list[str]:
    """A Markdown table's header row and the separator under it."""
    return [table_row(*columns), "|---" * len(columns) + "|"]


def adaptive_section(cache: Cache) -> list[str]:
    labels = [d[0] for d in ADAPTIVE_DEFENSES]
    targets = list(TARGETS)
    loads = all_loads(cache)
    unrecorded = sum(
        1 for k, v in cache.data.items() if k.startswith("adaptive/") and "seconds" in v and "load" not in v
    )
    load_text = (
        f"1-minute load average {min(loads):.1f}–{max(loads):.1f} (median {float(np.median(loads)):.1f}) "
        "over the entries that recorded it, on 2 cores shared with other helpers' jobs (from ~10:35 an "
        "HGD training run with priority; this ran under `nice -n 10`)"
        + (
            f"; {unrecorded} entries from an earlier run (the first two chunks of median / JPEG / bit "
            "depth) recorded no load, and their times are 2–5× those of today's run"
            if unrecorded
            else ""
        )
        + ". Every time below is an upper bound"
        if loads
        else "load average not recorded"
    )
    lines = [
        "## Adaptive attacks at ε = 16 (issue 16)",
        "",
        "Generated by `nice -n 10 python benches/measure_results.py --adaptive --n 100 --budget S` on the "
        f"first DEV images in chunks of {CHUNK} (resumable; every cell says its n; 95 % Wilson intervals). "
        f"Machine: {load_text}. Top-1 accuracy % of each zoo defense. `pgd[base]` is the non-adaptive "
        "setting: PGD on the base model alone, the transform unknown to the attacker. Every other attack "
        "sees the whole pipeline: BPDA through median / JPEG / bit depth (identity backward), EOT over "
        f"random resize + pad with {EOT} draws per gradient step (so 2 × iterations gradient draws per "
        "image for rrp; the deterministic pipelines need one); `square-linf` only queries the defended "
        "scores (p_init = 0.05, the published value for ImageNet L∞).",
        "",
        "### Robust accuracy: the per-image cascade (n = 100)",
        "",
        "The images the defense gets right when clean are attacked by each stage in turn, each stage "
        "only on the images still standing; robust = right under every stage. Stages, cheapest strong "
        "first: "
        + "; ".join(f"`{r.label}` = `{r.attack}` {fmt_params(r.params)}" for r in CASCADE)
        + ". APGD as published (Croce & Hein 2020): 100 iterations, 1 restart, momentum 0.75, ρ = 0.75, "
        "step 2ε halved at the checkpoints; APGD-T over the 9 most likely other classes. Square with "
        "1000 queries (published 5000).",
        "",
        *table_head(
            "defense",
            "n",
            "clean",
            *(f"after {r.label}: standing / attacked (s)" for r in CASCADE),
            "robust accuracy % [95 % CI]",
        ),
    ]
    for label in targets:
        r = cascade_result(cache, label)
        if not r.n:
            lines.append(table_row(label, 0, "–", *("–" for _ in CASCADE), "–"))
            continue
        stages = [
            f"{r.standing[s.label]} / {r.attacked[s.label]} ({r.seconds[s.label]:.0f})" for s in CASCADE
        ]
        robust = pct_ci({"correct": r.robust, "n": r.n})
        lines.append(table_row(label, r.n, r.clean, *stages, f"**{robust}**"))
    lines += [
        "",
        "### Per attack: each attack on every image of the chunks it reached",
        "",
        "n = 100 where the cascade's first stage ran; the costlier attacks on fewer images (cut settings: "
        "APGD 10 iterations, Square 200 queries, autoattack-lite both; the `×100` / `×1000` columns are "
        "the cascade's published settings run alone). The zoo's other defenses get "
        "BPDA/EOT-PGD on the first chunk beside their clean accuracy: on lite0 alone it is white-box "
        "PGD; on drop-resize the EOT draws cover the resize + pad and the dropout masks (2 per step). "
        "Accuracy % [95 % CI] (n).",
        "",
        *table_head("defense", "clean", *(r.label for r in ROWS)),
    ]
    for label in labels:
        cells = [cell(oks(cache, label, "clean"))] + [cell(oks(cache, label, r.label)) for r in ROWS]
        lines.append(table_row(label, *cells))
    # Columns of the defenses some attack was timed on (the targets always).
    timed = [label for label in labels if label in targets or any(oks(cache, label, r.label) for r in ROWS)]
    lines += [
        "",
        "### Time per 100 images",
        "",
        "Wall seconds of the attack alone (defense evaluation excluded) per 100 images attacked, from "
        "the per-attack runs (every image of a chunk) and from the cascade stages (their images). "
        "Attacks that stop per image at success (APGD restarts and targets, Square, autoattack-lite's "
        "stages) cost less on images that fall early, so these times are for these defenses.",
        "",
        *table_head("attack", "settings", *timed),
    ]
    for r in ROWS:
        row = []
        for label in timed:
            es = [v for _, v in entries(cache, f"adaptive/{label}/{r.label}/")]
            n = sum(len(e["ok"]) for e in es)
            row.append(f"{100 * sum(e['seconds'] for e in es) / n:.0f} (n={n})" if n else "–")
        lines.append(table_row(f"{r.label} (`{r.attack}`)", fmt_params(r.params), *row))
    ran = {label: cascade_result(cache, label).n > 0 for label in targets}
    for r in CASCADE[1:]:
        row = []
        for label in timed:
            es = [v for _, v in entries(cache, f"adaptive/{label}/cascade/{r.label}/")]
            n = sum(len(e["idx"]) for e in es)
            idle = "– (none standing)" if ran.get(label) else "–"
            row.append(f"{100 * sum(e['seconds'] for e in es) / n:.0f} (n={n})" if n else idle)
        lines.append(table_row(f"cascade {r.label} (`{r.attack}`)", fmt_params(r.params), *row))
    return lines


def fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"


__all__ = ["adaptive_claims", "adaptive_main", "adaptive_section", "table_head", "table_row"]
