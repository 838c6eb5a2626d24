#!/usr/bin/env bash
# The GPU benchmark, for an H100/H200 machine with CUDA 13 and PyTorch preinstalled and no package index.
# Needs the git-ignored .whl/ that benches/gpu/prepare.sh fills, carried in pieces (docs/benchmarks.md,
# "GPU"), and the Rust extension python/advengine/_core.abi3.so. Run from anywhere:
#   bash benches/gpu/run.sh
# It installs onnxruntime-gpu into a private target dir, then measures the MI-FGSM step at batch 100
# (advengine on the CUDA EP with IO binding, with and without CUDA graphs; PyTorch eager and
# torch.compile on the same GPU), runs the default `advengine eval` on the 100 sample images, then the
# whole `advengine attack mifgsm` as a process (Lite0 and the ensemble, 100 images) against the PyTorch
# eager script on the GPU, and prints a results table. Every case has its own time limit, and cases are
# skipped once BUDGET_S (default 420 s) is used, so the whole script stays under 8 minutes; the
# whole-attack cases come last, so give BUDGET_S=600 to be sure they run. Results also go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
START=$SECONDS
BUDGET_S=${BUDGET_S:-420}
PY=${PYTHON:-python3}
SITE=/tmp/advengine-site
RESULTS=${OUT:-/tmp/advengine-gpu}/results.jsonl
mkdir -p "$SITE" "$(dirname "$RESULTS")" && : >"$RESULTS"
log() { echo "[$((SECONDS - START)) s] $*"; }

# 1. onnxruntime-gpu from its parts (checked against the sum taken before splitting), plus small wheels.
first=$(ls .whl/ort-gpu/*.part-aa) || { echo "no .whl/ort-gpu parts: run benches/gpu/prepare.sh and carry .whl" >&2; exit 2; }
wheel=/tmp/$(basename "${first%.part-aa}")
cat "${first%.part-aa}".part-* >"$wheel"
(cd /tmp && sha256sum -c "$OLDPWD/.whl/ort-gpu/SHA256SUMS") || { echo "the reassembled wheel is damaged; carry every part again" >&2; exit 2; }
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$wheel" .whl/small/*.whl || exit 2
export PYTHONPATH="$PWD/python:$PWD/benches:$SITE"
export PYTHONUNBUFFERED=1
# The CUDA EP loads cuDNN/cuBLAS/cuFFT by name: point it at the libraries of PyTorch's nvidia wheels.
NVLIBS=$("$PY" -c 'import glob, os, nvidia; print(":".join(sorted({d for r in nvidia.__path__ for d in glob.glob(os.path.join(r, "*", "lib*")) if os.path.isdir(d)})))' 2>/dev/null)
export LD_LIBRARY_PATH="${NVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The zoo's ONNX files come in .whl/models (no weights packages here); compiled graphs are cached beside.
export ADVENGINE_CACHE=/tmp/advengine-cache
mkdir -p "$ADVENGINE_CACHE/models" && cp .whl/models/* "$ADVENGINE_CACHE/models/"
export ADVENGINE_PROVIDERS=CUDAExecutionProvider,CPUExecutionProvider
log "installed; checking the CUDA EP"
"$PY" - <<'PYEOF'
import onnxruntime as ort
from onnx import TensorProto, helper

g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "t",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
s = ort.InferenceSession(m.SerializeToString(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
print("onnxruntime", ort.__version__, ort.__file__, "session providers", s.get_providers())
if s.get_providers()[0] != "CUDAExecutionProvider":
    print("WARNING: the CUDA EP did not load (see the messages above); advengine rows run on the CPU")
PYEOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

case_run() {  # case_run LIMIT_S ARGS...: one bench_gpu.py case, skipped when the budget is spent
    local limit=$1; shift
    if (( SECONDS - START + limit / 2 > BUDGET_S )); then
        log "skipped $*: budget"; echo "{\"args\": \"$*\", \"error\": \"skipped: time budget\"}" >>"$RESULTS"; return
    fi
    log "case $*"
    timeout "$limit" "$PY" benches/gpu/bench_gpu.py "$@" | tee -a "$RESULTS" \
        || echo "{\"args\": \"$*\", \"error\": \"failed or timed out after ${limit} s\"}" >>"$RESULTS"
}

# 2. The step at batch 100, most important first.
for side in ort ort-cudagraph eager; do case_run 90 --model lite0 --side "$side"; done
case_run 150 --model lite0 --side compile
for side in ort ort-cudagraph eager; do case_run 120 --model ensemble --side "$side"; done

# 3. The default competition on the 100 sample images, on the GPU.
if (( SECONDS - START + 60 < BUDGET_S )); then
    log "advengine eval (default competition, 100 sample images)"
    t0=$SECONDS
    if timeout $((BUDGET_S - (SECONDS - START))) "$PY" -m advengine eval --out /tmp/advengine-eval --json >/tmp/advengine-eval.json; then
        echo "{\"case\": \"advengine eval\", \"wall_s\": $((SECONDS - t0))}" | tee -a "$RESULTS"
    else
        echo "{\"case\": \"advengine eval\", \"error\": \"failed or timed out\", \"wall_s\": $((SECONDS - t0))}" | tee -a "$RESULTS"
    fi
fi
case_run 180 --model ensemble --side compile

# 4. The whole attack as a user runs it (issue 25): `advengine attack mifgsm` (10 iterations, ε = 16) on
# the 100 sample images as one process, Lite0 and the Lite0/1/2 ensemble, against the PyTorch eager
# script on the same GPU (benches/bench_attack_e2e.py --run torch --device cuda); process wall clock.
SAMPLE=$("$PY" -c 'from advengine.data import sample_dataset_dir; print(sample_dataset_dir())')
attack_run() {  # attack_run LIMIT_S NAME MODELS SIDE: one whole-attack process, skipped when the budget is spent
    local limit=$1 name=$2 models=$3 side=$4 out=/tmp/advengine-attack/$2-$4 t0=$SECONDS
    if (( SECONDS - START + limit / 2 > BUDGET_S )); then
        log "skipped attack $name $side: budget"
        echo "{\"case\": \"attack $name\", \"side\": \"$side\", \"error\": \"skipped: time budget\"}" >>"$RESULTS"; return
    fi
    log "attack $name $side"
    rm -rf "$out"
    if [[ $side == advengine ]]; then
        cmd=("$PY" -m advengine attack mifgsm --data "$SAMPLE" --out "$out" --models "$models" --eps 16 --param iterations=10 --json)
    else
        cmd=("$PY" benches/bench_attack_e2e.py --run torch --device cuda --models "$models" --data "$SAMPLE/images" --out "$out")
    fi
    if timeout "$limit" "${cmd[@]}" >/tmp/advengine-attack-last.json; then
        echo "{\"case\": \"attack $name\", \"side\": \"$side\", \"images\": 100, \"wall_s\": $((SECONDS - t0))}" | tee -a "$RESULTS"
    else
        echo "{\"case\": \"attack $name\", \"side\": \"$side\", \"error\": \"failed or timed out after ${limit} s\"}" | tee -a "$RESULTS"
    fi
}
for side in advengine torch; do attack_run 120 lite0 efficientnet-lite0 "$side"; done
for side in advengine torch; do attack_run 180 ensemble efficientnet-lite0,efficientnet-lite1,efficientnet-lite2 "$side"; done

# 5. The table.
"$PY" - "$RESULTS" <<'PYEOF'
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
steps = {(r["model"], r["side"]): r for r in rows if "model" in r}
print("\n| case | side | ms per step (batch 100) | images·steps/s | setup / warm-up s | vs eager | vs compile |")
print("|---|---|---|---|---|---|---|")
for (model, side), r in steps.items():
    if "error" in r:
        print(f"| {model} | {side} | {r['error']} | | | | |")
        continue
    ratio = lambda other: (f"{steps[(model, other)]['ms_per_step'] / r['ms_per_step']:.2f}×"
                           if "ms_per_step" in steps.get((model, other), {}) else "")
    print(f"| {model} | {side} | {r['ms_per_step']} | {r['images_per_s']} | {r['setup_s']} | "
          f"{ratio('eager')} | {ratio('compile')} |")
for r in rows:
    if r.get("case") or "args" in r:
        print(json.dumps(r))
PYEOF
cp /tmp/advengine-eval.json "$(dirname "$RESULTS")/" 2>/dev/null || true

# 5. Issue 27's attack-FCN training at its GPU scale, then its held-out evaluation: long (LIMIT_S,
# default 3000 s, of training), so only with FCN_TRAIN=1; its figures go to $OUT/fcn (docs/fcn.md).
if [[ "${FCN_TRAIN:-0}" == 1 ]]; then
    log "attack-FCN training (benches/gpu/train_fcn.sh)"
    OUT="$(dirname "$RESULTS")/fcn" RUN=/tmp/advengine-fcn bash benches/gpu/train_fcn.sh || log "attack-FCN training failed"
fi
# 6. Issue 27's HGD v2 training at its GPU scale, then its held-out evaluation: long (LIMIT_S, default
# 3000 s, of data and training), so only with HGD_TRAIN=1; its figures go to $OUT/hgd (docs/hgd.md).
if [[ "${HGD_TRAIN:-0}" == 1 ]]; then
    log "HGD v2 training (benches/gpu/train_hgd.sh)"
    OUT="$(dirname "$RESULTS")/hgd" RUN=/tmp/advengine-hgd bash benches/gpu/train_hgd.sh || log "HGD training failed"
fi
log "done"
