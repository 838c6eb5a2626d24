"""The attack FCN on the held-out DEV images (docs/fcn.md): lite2's misclassification rate (transfer)
at ε16 for checkpoints of an ``advengine train attack-fcn`` run, against MI-FGSM (10 iterations) from
the same sources lite0 + lite1, with the wall time per 100 images of both. The first ``--n`` images
(sorted by ImageId) are the ones ``--holdout 200`` never trains on.

    python benches/fcn_eval.py runs/fcn --steps 0,50,100 --mifgsm     # figures → benches/.fcn_cache.json
    python benches/fcn_eval.py runs/fcn --plot docs/fcn_curve.png      # table + curve from the cache
    python benches/fcn_eval.py --shipped --mifgsm --cache /tmp/q.json  # the shipped weights alone

Step 0 is the untrained FCN (FGSM along the hint); a step ``s`` is the run's ``snapshots/step-s.npz``.
Every figure is cached (an interrupted run resumes) with the machine's load average, because the
times are only indicative on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from advengine.attacks import build_attack
from advengine.attacks.base import Attack
from advengine.attacks.fcn import FcnAttack
from advengine.attacks.sources import clear_sources
from advengine.data import load_dataset
from advengine.defenses import build_defense
from advengine.files import atomic_write
from advengine.models.fcn import FcnConfig
from advengine.models.sessions import clear_sessions
from advengine.training import FcnSettings
from advengine.training.checkpoint import load_checkpoint
from advengine.training.fcn_trainer import export_fcn, new_state
from advengine.training.loop import CHECKPOINT, SNAPSHOTS, load_snapshot
from devdata import dev_data_dir
from results_cache import Cache, pct_ci

LITE01 = ("efficientnet-lite0", "efficientnet-lite1")
BATCH = 25


def attack_and_score(attack: Attack[Any], clean: np.ndarray, labels: np.ndarray, eps: int) -> dict[str, Any]:
    """Attack in batches of 25 (seed = batch start), time it, and count lite2's misclassifications."""
    load = os.getloadavg()[0]
    t = time.perf_counter()
    adv = np.concatenate([attack(clean[i : i + BATCH], eps=eps, seed=i) for i in range(0, len(clean), BATCH)])
    seconds = time.perf_counter() - t
    linf = int(np.abs(adv.astype(np.int16) - clean.astype(np.int16)).max())
    lite2 = build_defense("classifier", {}, ("efficientnet-lite2",))
    pred = np.concatenate([lite2(adv[i : i + BATCH], seed=i) for i in range(0, len(adv), BATCH)])
    clear_sources()
    clear_sessions()
    return {
        "misclassified": int((pred != labels).sum()),
        "n": len(clean),
        "seconds": seconds,
        "linf": linf,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def fcn_attack(run: Path, step: int, tmp: Path) -> tuple[Attack[Any], int]:
    """The ``fcn`` attack with the run's parameters at ``step`` (0: the untrained FCN); images seen."""
    ckpt = load_checkpoint(run / CHECKPOINT)
    settings = FcnSettings.model_validate(ckpt.settings)
    config = FcnConfig(299, settings.channels)
    params = new_state(settings, config).params if step == 0 else load_snapshot(run, step)
    _, manifest = export_fcn(config, params, tmp / f"step-{step}", settings, step)
    return build_attack("fcn", {"weights": str(manifest)}), step * settings.batch_size


def snapshot_steps(run: Path, steps: str) -> list[int]:
    """``--steps``: comma-separated steps; ``latest`` is the run's last snapshot."""
    out = []
    for s in (s.strip() for s in steps.split(",") if s.strip()):
        if s == "latest":
            snaps = sorted((run / SNAPSHOTS).glob("step-*.npz"))
            if not snaps:
                raise SystemExit(f"{run} has no snapshots yet")
            out.append(int(snaps[-1].stem.removeprefix("step-")))
        else:
            out.append(int(s))
    return out


def render(cache: Cache, plot: Path | None) -> None:
    rows = sorted((int(k.split("/")[1]), v) for k, v in cache.data.items() if k.startswith("fcn/"))
    mi = cache.get("mifgsm[lite0+lite1]@16")
    print("| attack | images seen | lite2 misclassified % [95 % CI] | s / 100 images | load (1 min) |")
    print("|---|---|---|---|---|")
    for step, v in rows:
        print(
            f"| fcn step {step} | {v['images_seen']} | {pct_ci(v, 'misclassified')} | "
            f"{100 * v['seconds'] / v['n']:.1f} | {v['load_before']:.1f}–{v['load_after']:.1f} |"
        )
    shipped = cache.get("shipped")
    if shipped:
        print(
            f"| fcn (shipped) | {shipped['images_seen']} | {pct_ci(shipped, 'misclassified')} | "
            f"{100 * shipped['seconds'] / shipped['n']:.1f} | "
            f"{shipped['load_before']:.1f}–{shipped['load_after']:.1f} |"
        )
    if mi:
        print(
            f"| mifgsm[lite0+lite1] (10 it.) | – | {pct_ci(mi, 'misclassified')} | "
            f"{100 * mi['seconds'] / mi['n']:.1f} | {mi['load_before']:.1f}–{mi['load_after']:.1f} |"
        )
    if plot is None or not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    seen = [v["images_seen"] for _, v in rows]
    rate = [100 * v["misclassified"] / v["n"] for _, v in rows]
    ax.plot(seen, rate, "o-", color="#08519c", label="fcn (hint lite0; trained on lite0 + lite1)")
    if mi:
        ax.axhline(
            100 * mi["misclassified"] / mi["n"],
            color="#cb181d",
            linestyle="--",
            label="MI-FGSM lite0+lite1, 10 it.",
        )
        ax.axhline(
            100 * mi["misclassified"] / mi["n"] - 10,
            color="#fc9272",
            linestyle=":",
            label="goal: MI-FGSM − 10 points",
        )
    ax.set_xlabel("training images seen")
    ax.set_ylabel("lite2 misclassified % (ε 16)")
    ax.set_title(f"attack FCN, transfer to lite2 on the {rows[0][1]['n']} held-out DEV images", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    save_png(fig, plot)


def save_png(fig: Any, path: Path) -> None:
    """``fig`` (tight layout) as the PNG ``path``, written atomically (also hgd_eval.py's curve)."""
    fig.tight_layout()
    buf = path.with_suffix(".tmp.png")
    fig.savefig(buf)
    atomic_write(path, buf.read_bytes())
    buf.unlink()


def run_args(ap: argparse.ArgumentParser, command: str, steps: str) -> None:
    """The arguments of a run's held-out evaluation (also hgd_eval.py's): the run dir, the DEV data,
    how many held-out images, which snapshot steps (``steps`` explains their words)."""
    ap.add_argument(
        "run", type=Path, nargs="?", help=f"An `advengine train {command}` run dir (for --steps)."
    )
    ap.add_argument("--data", type=Path, default=dev_data_dir())
    ap.add_argument("--n", type=int, default=200, help="The first N images (the held-out ones).")
    ap.add_argument("--steps", default="", help=f"Comma-separated snapshot steps to evaluate ({steps}).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run_args(ap, "attack-fcn", "0: untrained, latest: the last snapshot")
    ap.add_argument("--shipped", action="store_true", help="Also the shipped weights (`fcn` as installed).")
    ap.add_argument("--mifgsm", action="store_true", help="Also MI-FGSM (10 iterations) from lite0 + lite1.")
    ap.add_argument("--eps", type=int, default=16)
    ap.add_argument("--cache", type=Path, default=Path(__file__).parent / ".fcn_cache.json")
    ap.add_argument("--plot", type=Path, default=None, help="Write the curve as a PNG.")
    args = ap.parse_args()
    ds = load_dataset(args.data).head(args.n)
    assert ds.true_labels is not None
    clean = ds.read_images()
    cache = Cache(args.cache)
    with tempfile.TemporaryDirectory() as tmp:
        for step in snapshot_steps(args.run, args.steps) if args.run else []:
            key = f"fcn/{step}"
            if cache.get(key) is None:
                attack, seen = fcn_attack(args.run, step, Path(tmp))
                cache.put(
                    key, {**attack_and_score(attack, clean, ds.true_labels, args.eps), "images_seen": seen}
                )
                print(key, cache.get(key), flush=True)
    if args.shipped and cache.get("shipped") is None:
        attack = build_attack("fcn", {})
        assert isinstance(attack, FcnAttack)
        seen = attack.manifest.images_seen
        cache.put(
            "shipped", {**attack_and_score(attack, clean, ds.true_labels, args.eps), "images_seen": seen}
        )
        print("shipped", cache.get("shipped"), flush=True)
    key = f"mifgsm[lite0+lite1]@{args.eps}"
    if args.mifgsm and cache.get(key) is None:
        cache.put(key, attack_and_score(build_attack("mifgsm", {}, LITE01), clean, ds.true_labels, args.eps))
        print(key, cache.get(key), flush=True)
    render(cache, args.plot)


if __name__ == "__main__":
    main()
