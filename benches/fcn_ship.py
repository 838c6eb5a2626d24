"""Ship an attack-FCN run's weights as the ``fcn`` attack's (docs/fcn.md): the run's checkpoint (or
one of its snapshots) → python/advengine/models/weights/attack-fcn.onnx + attack-fcn.json (sha256).

    python benches/fcn_ship.py runs/fcn              # the latest checkpoint
    python benches/fcn_ship.py runs/fcn --step 200   # snapshots/step-000200.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

from advengine.models.fcn import SHIPPED, FcnConfig, load_fcn
from advengine.training import FcnSettings
from advengine.training.checkpoint import load_checkpoint
from advengine.training.fcn_trainer import export_fcn
from advengine.training.loop import CHECKPOINT, load_snapshot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--step", type=int, default=None, help="A snapshot's step (default: the checkpoint).")
    ap.add_argument("--out", type=Path, default=SHIPPED.parent)
    args = ap.parse_args()
    ckpt = load_checkpoint(args.run / CHECKPOINT)
    settings = FcnSettings.model_validate(ckpt.settings)
    step, params = ckpt.step, ckpt.params
    if args.step is not None:
        step = args.step
        params = load_snapshot(args.run, step)
    _, manifest = export_fcn(FcnConfig(299, settings.channels), params, args.out, settings, step)
    _, m = load_fcn(manifest)  # what was written reads back, sha256 included
    size = (args.out / m.file).stat().st_size
    print(f"{manifest}: step {step}, {m.images_seen} images seen, {size} bytes, sha256 {m.sha256}")


if __name__ == "__main__":
    main()
