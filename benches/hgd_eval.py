"""HGD v2 on the held-out DEV images (docs/hgd.md, "HGD v2"): top-1 accuracy of snapshots of an
``advengine train hgd`` run (the denoiser in front of the run's deployed classifier) on the clean
images and the transfer sets of ``hgd_results.py`` (MI-FGSM from lite0 + lite1 at ε16, I-FGSM at ε8),
beside lite2, median and random resize + pad in front of lite2 and the shipped v1 ``hgd``, whose
figures come from docs/results.md's cache (benches/.results_cache.json) when it has them. The first
``--n`` images (sorted by ImageId) are the ones ``--holdout 200`` never trains on.

    python benches/hgd_eval.py runs/hgd2 --steps latest                    # → benches/.hgd2_cache.json
    python benches/hgd_eval.py runs/hgd2 --steps 100,200 --sets mifgsm      # the curve's points
    python benches/hgd_eval.py runs/hgd2 --plot docs/hgd2_curve.png         # table + curve, cache only

Every figure is cached with the load average around it (an interrupted run resumes).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from advengine.attacks import build_attack
from advengine.attacks.sources import clear_sources
from advengine.models import get_manifest
from advengine.models.dunet import DunetConfig
from advengine.models.sessions import clear_sessions
from advengine.training import TrainSettings
from advengine.training.checkpoint import load_checkpoint
from advengine.training.export import export_denoiser
from advengine.training.loop import CHECKPOINT, SNAPSHOTS, load_snapshot
from fcn_eval import run_args, save_png
from hgd_results import HGD_DEFENSES, HGD_SETS, accuracy, held_out_sets
from results_cache import Cache, pct_ci

BENCHES = Path(__file__).resolve().parent
#: Short names of the sets for ``--sets``.
SET_NAMES = {"clean": "clean", "mifgsm": HGD_SETS[0][0], "ifgsm": HGD_SETS[1][0]}
GOAL_OVER_LITE2, GOAL_OVER_TRANSFORMS, CLEAN_WITHIN = 20, 15, 3


def snapshot_steps(run: Path, steps: str) -> list[int]:
    """``--steps``: comma-separated steps; ``latest`` is the run's last snapshot, ``spread`` the
    snapshots nearest to a quarter, half and three quarters of it (the curve's inner points)."""
    snaps = sorted(int(p.stem.removeprefix("step-")) for p in (run / SNAPSHOTS).glob("step-*.npz"))
    out: list[int] = []
    for s in (s.strip() for s in steps.split(",") if s.strip()):
        if s in ("latest", "spread") and not snaps:
            raise SystemExit(f"{run} has no snapshots yet")
        if s == "latest":
            out.append(snaps[-1])
        elif s == "spread":
            out += sorted({min(snaps, key=lambda k: abs(k - f * snaps[-1])) for f in (0.25, 0.5, 0.75)})
        else:
            out.append(int(s))
    return out


def snapshot_model(run: Path, step: int, models: Path) -> tuple[str, int]:
    """Export the run's denoiser at ``step`` in front of its deployed classifier as a zoo model in
    ``models`` (on ADVENGINE_MODEL_PATH); its name and the training images it had seen."""
    settings = TrainSettings.model_validate(load_checkpoint(run / CHECKPOINT).settings)
    side = get_manifest(settings.deployed).input_size
    name = f"{settings.deployed}-hgd-{run.name}-{step}"
    export_denoiser(
        DunetConfig(side, settings.channels),
        load_snapshot(run, step),
        models,
        name=name,
        target=settings.deployed,
    )
    return name, settings.init_images + step * settings.batch_size


def measure(
    cache: Cache, key: str, defense: str, models: tuple[str, ...], images: np.ndarray, labels: np.ndarray
) -> None:
    if cache.get(key) is not None:
        return
    load = os.getloadavg()[0]
    entry = accuracy(defense, models, images, labels)
    cache.put(key, {**entry, "load_before": load, "load_after": os.getloadavg()[0]})
    print(f"  {key}: {cache.get(key)}", flush=True)


def white_box(cache: Cache, step: int, name: str, clean: np.ndarray, labels: np.ndarray, n: int) -> None:
    """PGD (5 iterations, ε 16, uniform random start) through the whole defense (denoiser and lite2,
    one graph: the gradient compiler differentiates both) on the first ``n`` images: the audit's
    white-box row, which a denoiser is expected to lose."""
    key = f"v2/{step}/pgd-white-box@16"
    if cache.get(key) is not None:
        return
    attack = build_attack("pgd", {"iterations": 5}, (name,))
    adv = np.concatenate([attack(clean[i : min(i + 10, n)], eps=16, seed=i) for i in range(0, n, 10)])
    clear_sources()
    clear_sessions()
    measure(cache, key, "hgd", (name,), adv, labels[:n])


def baselines(cache: Cache, results: Cache, sets: list[tuple[str, np.ndarray]], labels: np.ndarray) -> None:
    """lite2, median, rrp and v1 on every set. lite2 is measured on every adversarial set; where it
    gives docs/results.md's cached figure for the same images (the set was made again the same way),
    the other defenses' cached figures are copied, else they are measured too (rrp takes minutes)."""
    for name, images in sets:
        fresh = f"acc/{name}/lite2"
        if name != "clean":
            measure(cache, fresh, "classifier", ("efficientnet-lite2",), images, labels)
        known = results.get(fresh)
        same = known is not None and known["n"] == len(images)
        if same and name != "clean":
            same = known["correct"] == cache.get(fresh)["correct"]
        for label, defense, models in HGD_DEFENSES:
            key = f"acc/{name}/{label}"
            cached = results.get(key)
            if same and cache.get(key) is None and cached is not None:
                cache.put(key, {**cached, "from": "benches/.results_cache.json"})
            measure(cache, key, defense, models, images, labels)


def render(cache: Cache, plot: Path | None) -> None:
    """The table (stdout) and the curve of held-out accuracy against training images seen."""
    labels = [d[0] for d in HGD_DEFENSES]
    steps = sorted({int(k.split("/")[1]) for k in cache.data if k.startswith("v2/")})
    names = list(SET_NAMES.values())
    print("| images | " + " | ".join(labels) + " | " + " | ".join(f"v2 step {s}" for s in steps) + " |")
    print("|---" * (1 + len(labels) + len(steps)) + "|")
    for name in names:
        cells = [pct_ci(cache.get(f"acc/{name}/{label}")) for label in labels]
        cells += [pct_ci(cache.get(f"v2/{s}/{name}")) for s in steps]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for s in steps:
        wb = cache.get(f"v2/{s}/pgd-white-box@16")
        if wb is not None:
            print(f"white-box PGD (5 it., ε 16) through v2 step {s}, first {wb['n']} images: {pct_ci(wb)}")
    seen = {
        s: cache.get(f"v2/{s}/{n}")["images_seen"] for s in steps for n in names if cache.get(f"v2/{s}/{n}")
    }
    print("images seen: " + ", ".join(f"step {s}: {v}" for s, v in seen.items()))
    if plot is None or not steps:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def pct(entry: dict[str, Any] | None) -> float:
        return float("nan") if entry is None else 100 * entry["correct"] / entry["n"]

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=120)
    colours = {"clean": "#238b45", names[1]: "#08519c", names[2]: "#6a51a3"}
    for name in names:
        xs = [cache.get(f"v2/{s}/{name}")["images_seen"] for s in steps if cache.get(f"v2/{s}/{name}")]
        ys = [pct(cache.get(f"v2/{s}/{name}")) for s in steps if cache.get(f"v2/{s}/{name}")]
        v1 = cache.get(f"acc/{name}/hgd(lite2)")
        if v1 is not None:  # v1 saw 4,000 images (500 steps of 8)
            xs, ys = [4000, *xs], [pct(v1), *ys]
        axes[0].plot(xs, ys, "o-", color=colours[name], label=f"hgd v2, {name}")
    mi = names[1]
    lite2 = pct(cache.get(f"acc/{mi}/lite2"))
    best = max(pct(cache.get(f"acc/{mi}/median(lite2)")), pct(cache.get(f"acc/{mi}/rrp(lite2)")))
    axes[0].axhline(lite2, color="#cb181d", linestyle="--", label=f"lite2, {mi}")
    axes[0].axhline(best, color="#fd8d3c", linestyle="--", label=f"best of median / rrp, {mi}")
    goal = max(lite2 + GOAL_OVER_LITE2, best + GOAL_OVER_TRANSFORMS)
    axes[0].axhline(goal, color="#fc9272", linestyle=":", label="goal on MI-FGSM")
    axes[0].set_xlabel("training images seen (v1's 4,000 included)")
    axes[0].set_ylabel("top-1 accuracy % (held-out)")
    axes[0].set_title("HGD v2 on the held-out DEV images", fontsize=9)
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=6.5)
    run = cache.get("run")
    if run is not None:
        ckpt = load_checkpoint(Path(run) / CHECKPOINT)
        losses = np.asarray(ckpt.losses)
        w = max(1, min(25, len(losses)))
        smooth = np.convolve(losses, np.ones(w) / w, mode="valid")
        axes[1].plot(
            np.arange(1, len(losses) + 1), losses, color="#9ecae1", linewidth=0.6, label="batch mean"
        )
        axes[1].plot(np.arange(w, len(losses) + 1), smooth, color="#08519c", label=f"moving average ({w})")
        s = ckpt.settings
        axes[1].set_title(
            f"LGD loss, guide {s['target']} on {s['crop'] or 'whole'}-px crops, DUNET "
            f"{'-'.join(map(str, s['channels']))}, batch {s['batch_size']}",
            fontsize=8,
        )
        axes[1].set_xlabel("step")
        axes[1].set_ylabel("Σ_k |z_k(x − D(x)) − z_k(clean)| per image")
        axes[1].grid(alpha=0.3)
        axes[1].legend(fontsize=7)
    save_png(fig, plot)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run_args(ap, "hgd", "latest: the last snapshot; spread: 3 before it")
    ap.add_argument("--sets", default="clean,mifgsm,ifgsm", help="Which sets (made and measured).")
    ap.add_argument(
        "--no-baselines", action="store_true", help="Only the snapshots (no lite2/median/rrp/v1)."
    )
    ap.add_argument("--cache", type=Path, default=BENCHES / ".hgd2_cache.json")
    ap.add_argument("--results-cache", type=Path, default=BENCHES / ".results_cache.json")
    ap.add_argument("--images", type=Path, default=Path.home() / ".cache" / "advengine" / "results_images")
    ap.add_argument("--plot", type=Path, default=None, help="Write the curve as a PNG.")
    ap.add_argument("--white-box", type=int, default=0, help="Also PGD through the defense on N images.")
    args = ap.parse_args()
    cache = Cache(args.cache)
    steps = snapshot_steps(args.run, args.steps) if args.run and args.steps else []
    wanted = {SET_NAMES[s.strip()] for s in args.sets.split(",") if s.strip()}
    if steps or not args.no_baselines:
        ds, sets = held_out_sets(args.data, args.n, args.images, cache, wanted)
        labels = ds.true_labels
        if not args.no_baselines:
            baselines(cache, Cache(args.results_cache), sets, labels)
        if steps:
            cache.put("run", str(args.run.resolve()))
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["ADVENGINE_MODEL_PATH"] = tmp  # the snapshots' models (a bench may set it)
            for step in steps:
                name, seen = snapshot_model(args.run, step, Path(tmp))
                for set_name, images in sets:
                    key = f"v2/{step}/{set_name}"
                    if set_name in wanted and cache.get(key) is None:
                        measure(cache, key, "hgd", (name,), images, labels)
                        cache.put(key, {**cache.get(key), "images_seen": seen})
                if args.white_box:
                    white_box(cache, step, name, sets[0][1], labels, args.white_box)
    render(cache, args.plot)


if __name__ == "__main__":
    main()
