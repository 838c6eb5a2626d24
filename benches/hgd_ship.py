"""Ship the denoiser of an HGD run as the bundled ``efficientnet-lite2-hgd`` model (the ``hgd``
defense): the DUNET with the weights of the run's checkpoint (or of one of its snapshots) into
``python/advengine/models/weights/`` (the same bytes ``advengine train hgd`` exports) and its
``denoised`` manifest (sha256 of that file) into the package's manifests and the canonical
``models/onnx/``. The run must deploy its denoiser in front of efficientnet-lite2 (its guide may be
another model).

    python benches/hgd_ship.py runs/hgd2               # the checkpoint
    python benches/hgd_ship.py runs/hgd2 --step 300    # snapshots/step-000300.npz
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from advengine.files import atomic_write
from advengine.models import get_manifest
from advengine.models.checkpoint import sha256_file
from advengine.models.dunet import DunetConfig, build_dunet
from advengine.models.manifest import parse_manifest
from advengine.training import TrainSettings
from advengine.training.checkpoint import load_checkpoint
from advengine.training.export import denoised_manifest
from advengine.training.loop import CHECKPOINT, load_snapshot

REPO = Path(__file__).resolve().parents[1]
NAME = "efficientnet-lite2-hgd"


def description(s: TrainSettings, step: int) -> str:
    guide = f"{s.target} as the guide" + (f" on {s.crop}-pixel crops" if s.crop else "")
    start = f", starting from v1's weights ({s.init_images} images seen)" if s.init else ""
    seen = s.init_images + step * s.batch_size
    return (
        f"HGD (Liao et al. 2018): a DUNET denoiser (channels {list(s.channels)}) trained by `advengine train "
        f"hgd` with the LGD loss, {guide}, for {step} steps of batch {s.batch_size} (seed {s.seed}){start}: "
        f"{seen} training images seen, adversarial examples of DEV images after the first {s.holdout}; in "
        f"front of {s.deployed} (docs/hgd.md)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="The run dir of `advengine train hgd` (--out).")
    ap.add_argument("--step", type=int, default=None, help="A snapshot's step (default: the checkpoint).")
    args = ap.parse_args()
    ckpt = load_checkpoint(args.run / CHECKPOINT)
    s = TrainSettings.model_validate(ckpt.settings)
    if s.deployed != "efficientnet-lite2":
        raise SystemExit(
            f"the run deploys its denoiser in front of {s.deployed}; {NAME} is for efficientnet-lite2"
        )
    step, params = ckpt.step, ckpt.params
    if args.step is not None:
        step, params = args.step, load_snapshot(args.run, args.step)
    size = get_manifest(s.deployed).input_size
    model = build_dunet(DunetConfig(size, s.channels), params)
    weights = REPO / "python" / "advengine" / "models" / "weights" / f"{NAME}.onnx"
    atomic_write(weights, model.SerializeToString())
    manifest = denoised_manifest(
        NAME, s.deployed, f"../weights/{weights.name}", sha256_file(weights), size, description(s, step)
    )
    text = json.dumps(manifest, indent=2) + "\n"
    for d in (REPO / "python" / "advengine" / "models" / "manifests", REPO / "models" / "onnx"):
        parse_manifest(manifest, d / f"{NAME}.json", "builtin")
        atomic_write(d / f"{NAME}.json", text)
    print(f"{weights} ({weights.stat().st_size} bytes), step {step}, sha256 {manifest['source']['sha256']}")


if __name__ == "__main__":
    main()
