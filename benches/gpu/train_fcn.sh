#!/usr/bin/env bash
# The attack-FCN training run of issue 27 at GPU scale (docs/fcn.md, "A GPU run"), then its held-out
# evaluation (lite2 transfer at ε16 vs MI-FGSM from lite0 + lite1, time per 100 images, the curve).
# benches/gpu/run.sh calls it with FCN_TRAIN=1 after its own cases (it needs the environment run.sh
# sets up: PYTHONPATH, ADVENGINE_PROVIDERS, the zoo in ADVENGINE_CACHE); on a CPU it runs as it is:
#   STEPS=2 BATCH=2 CHANNELS=2,4 EVAL_N=2 bash benches/gpu/train_fcn.sh      # a smoke test
# Settings (environment): DATA (the DEV dir), RUN (run dir), STEPS, BATCH, CHANNELS, LR, HOLDOUT,
# MODELS, HINT_MODEL, CHECKPOINT_EVERY, LIMIT_S (training wall-clock limit; the run resumes from its
# last checkpoint when started again), EVAL_N (held-out images), EVAL_STEPS (snapshots to evaluate),
# MIFGSM (1: measure MI-FGSM too), OUT (where results.json and the curve go).
# The defaults are the issue's scale on one GPU: the 600 training DEV images, batch 32, 3,000 steps
# (96,000 images seen, 160 passes), a 4× wider network (16,32,64,128), checkpoints every 100 steps.
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/python:$PWD/benches${PYTHONPATH:+:$PYTHONPATH}"
DATA=${DATA:-../shared/data/nips17_dev}
RUN=${RUN:-/tmp/advengine-fcn}
OUT=${OUT:-$RUN}
STEPS=${STEPS:-3000}
BATCH=${BATCH:-32}
CHANNELS=${CHANNELS:-16,32,64,128}
LR=${LR:-0.001}
HOLDOUT=${HOLDOUT:-200}
MODELS=${MODELS:-efficientnet-lite0,efficientnet-lite1}
HINT_MODEL=${HINT_MODEL:-efficientnet-lite0}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-100}
LIMIT_S=${LIMIT_S:-3000}
EVAL_N=${EVAL_N:-$HOLDOUT}
EVAL_STEPS=${EVAL_STEPS:-0,latest}
MIFGSM=${MIFGSM:-1}
mkdir -p "$RUN" "$OUT"
args=(--data "$DATA" --out "$RUN" --steps "$STEPS" --batch-size "$BATCH" --channels "$CHANNELS" --lr "$LR"
      --holdout "$HOLDOUT" --models "$MODELS" --hint-model "$HINT_MODEL" --checkpoint-every "$CHECKPOINT_EVERY" --json)
[[ -f "$RUN/checkpoint.npz" ]] && args+=(--resume)
echo "[train_fcn] training: ${args[*]} (limit ${LIMIT_S} s)"
t0=$SECONDS
timeout "$LIMIT_S" "$PY" -m advengine train attack-fcn "${args[@]}" >"$OUT/train.json"
rc=$?
echo "{\"case\": \"train attack-fcn\", \"rc\": $rc, \"wall_s\": $((SECONDS - t0))}"
if (( rc != 0 && rc != 124 )); then
    echo "[train_fcn] training failed (exit $rc)" >&2
    exit "$rc"
fi
eval_args=("$RUN" --data "$DATA" --n "$EVAL_N" --steps "$EVAL_STEPS" --cache "$OUT/results.json" --plot "$OUT/fcn_curve.png")
[[ "$MIFGSM" == 1 ]] && eval_args+=(--mifgsm)
echo "[train_fcn] evaluating: ${eval_args[*]}"
"$PY" benches/fcn_eval.py "${eval_args[@]}"
