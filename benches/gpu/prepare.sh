#!/usr/bin/env bash
# Run HERE (a machine with pip and the zoo models built) once before the GPU run: fills the git-ignored
# .whl/ with everything benches/gpu/run.sh needs on a GPU machine that has no package index, in pieces
# small enough to carry (docs/benchmarks.md, "GPU"):
#   .whl/ort-gpu/   onnxruntime-gpu (CUDA 13, CPython 3.12) split into 45 MiB parts + SHA256SUMS
#   .whl/small/     pure/small wheels the GPU image lacks (pydantic and friends, onnx2torch)
#   .whl/models/    the three zoo ONNX files with their .sha256 sidecars, as the model cache holds them
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
ORT=${ORT_GPU_VERSION:-1.31.1}
# The GPU image's python3 is CPython 3.12 (/work/.library/device/KINDS.md); PYVER=3.11 makes a local
# dry run of run.sh possible here.
PYVER=${PYVER:-3.12}
PART=${PART_SIZE:-45M}
dl() {
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$@"
}
mkdir -p .whl/ort-gpu .whl/small .whl/models /tmp/advengine-ort-gpu
dl /tmp/advengine-ort-gpu "onnxruntime-gpu==$ORT"
wheel=$(ls /tmp/advengine-ort-gpu/onnxruntime_gpu-"$ORT"-cp"${PYVER/./}"-*.whl)
name=$(basename "$wheel")
rm -f .whl/ort-gpu/*
(cd /tmp/advengine-ort-gpu && sha256sum "$name") >.whl/ort-gpu/SHA256SUMS
split -b "$PART" "$wheel" ".whl/ort-gpu/$name.part-"
# The versions of this environment (pydantic pins pydantic-core exactly), else the newest.
pins=$("$PY" - <<'PYEOF'
import importlib.metadata as md

for name in ("pydantic", "pydantic-core", "annotated-types", "typing-inspection", "typing-extensions", "onnx2torch"):
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        print(name)
PYEOF
)
rm -f .whl/small/*
# shellcheck disable=SC2086
dl .whl/small $pins
"$PY" - <<'PYEOF'
import shutil
from pathlib import Path

from advengine.models import ensure_onnx

for name in ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"):
    path = ensure_onnx(name)
    for f in (path, path.with_name(path.name + ".sha256")):
        shutil.copy(f, Path(".whl/models") / f.name)
PYEOF
du -sh .whl/ort-gpu/* .whl/small .whl/models/* python/advengine/_core.abi3.so
