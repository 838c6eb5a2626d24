"""Ship the denoiser of an HGD run as the bundled ``efficientnet-lite2-hgd`` model (the ``hgd``
defense): the DUNET with the weights of the run's checkpoint into
``python/advengine/models/weights/`` (the same bytes ``advengine train hgd`` exports) and its
``denoised`` manifest (sha256 of that file) into the package's manifests and the canonical
``models/onnx/``.

    python benches/hgd_ship.py runs/hgd
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
from advengine.training.checkpoint import load_checkpoint
from advengine.training.export import denoised_manifest

REPO = Path(__file__).resolve().parents[1]
NAME = "efficientnet-lite2-hgd"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run", type=Path, help="The run dir of `advengine train hgd` (--out).")
    args = ap.parse_args()
    ckpt = load_checkpoint(args.run / "checkpoint.npz")
    s = ckpt.settings
    size = get_manifest(s["target"]).input_size
    model = build_dunet(DunetConfig(size, tuple(s["channels"])), ckpt.params)
    weights = REPO / "python" / "advengine" / "models" / "weights" / f"{NAME}.onnx"
    atomic_write(weights, model.SerializeToString())
    description = (
        f"HGD (Liao et al. 2018): a DUNET denoiser (channels {s['channels']}) trained by `advengine "
        f"train hgd` with the LGD loss for {ckpt.step} steps of batch {s['batch']} (seed {s['seed']}) on "
        f"adversarial examples of DEV images after the first {s['holdout']}, in front of {s['target']} "
        "(docs/hgd.md)"
    )
    manifest = denoised_manifest(
        NAME,
        s["target"],
        f"../weights/{weights.name}",
        sha256_file(weights),
        size,
        description,
    )
    text = json.dumps(manifest, indent=2) + "\n"
    for d in (REPO / "python" / "advengine" / "models" / "manifests", REPO / "models" / "onnx"):
        parse_manifest(manifest, d / f"{NAME}.json", "builtin")
        atomic_write(d / f"{NAME}.json", text)
    print(
        f"{weights} ({weights.stat().st_size} bytes), step {ckpt.step}, sha256 {manifest['source']['sha256']}"
    )


if __name__ == "__main__":
    main()
