"""The loss curve of an HGD training run (docs/hgd.md), from its checkpoint's loss log.

python benches/hgd_plot.py runs/hgd/checkpoint.npz docs/hgd_loss.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from advengine.training.checkpoint import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--window", type=int, default=50, help="Steps in the moving average.")
    args = ap.parse_args()
    ckpt = load_checkpoint(args.checkpoint)
    losses = np.asarray(ckpt.losses)
    steps = np.arange(1, len(losses) + 1)
    w = max(1, min(args.window, len(losses)))
    smooth = np.convolve(losses, np.ones(w) / w, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    ax.plot(steps, losses, color="#9ecae1", linewidth=0.6, label="batch mean")
    ax.plot(steps[w - 1 :], smooth, color="#08519c", linewidth=1.8, label=f"moving average ({w} steps)")
    s = ckpt.settings
    batch = s.get("batch_size", s.get("batch"))  # v1's checkpoints named it "batch"
    ax.set_title(
        f"HGD (LGD loss), guide {s['target']}, DUNET {'-'.join(map(str, s['channels']))}, batch {batch}",
        fontsize=9,
    )
    ax.set_xlabel("step")
    ax.set_ylabel("Σ_k |z_k(x − D(x)) − z_k(clean)| per image")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out)
    first, last = losses[:w].mean(), losses[-w:].mean()
    print(f"{args.out}: {len(losses)} steps, mean of the first {w}: {first:.1f}, of the last {w}: {last:.1f}")


if __name__ == "__main__":
    main()
