#!/usr/bin/env bash
# The HGD v2 training run of issue 27 at GPU scale (docs/hgd.md, "A GPU run"), then its held-out
# evaluation (the 200 held-out DEV images: clean, MI-FGSM lite0+lite1 ε16, I-FGSM ε8; lite2, median,
# random resize + pad and v1 beside it; the curve). benches/gpu/run.sh calls it with HGD_TRAIN=1 after
# its own cases (it needs the environment run.sh sets up: PYTHONPATH, ADVENGINE_PROVIDERS, the zoo in
# ADVENGINE_CACHE); on a CPU it runs as it is:
#   STEPS=2 BATCH=2 CHANNELS=2,4 LIMIT=2 DRAWS=1 CROP=32 EVAL_N=2 bash benches/gpu/train_hgd.sh   # smoke
# Settings (environment): DATA (the DEV dir), RUN (run dir), STEPS, BATCH, CHANNELS, LR, CROP, LIMIT,
# DRAWS, GUIDE, DEPLOY, HOLDOUT, INIT (a DUNET to start from; empty: the identity), INIT_IMAGES,
# CHECKPOINT_EVERY, LIMIT_S (wall-clock limit of data + training; started again, the run resumes from
# its last checkpoint), EVAL_N (held-out images), EVAL_STEPS (snapshots measured on MI-FGSM for the
# curve), OUT (results.json, train.json and the curve).
# The defaults are our "published scale" on one GPU (the report trains HGD on ImageNet images; we
# have the 600 training DEV images): every training image with 4 adversarial copies (2,400 + the 600
# clean), lite0 guiding on its own 224-pixel crops in front of lite2, a 2× wider DUNET
# (16,32,64,128, from scratch: v1's weights do not fit it), batch 32 for 3,000 steps = 96,000 images
# seen (24× v1's 4,000, 32 passes over the 3,000 training samples), checkpoints every 100 steps.
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/python:$PWD/benches${PYTHONPATH:+:$PYTHONPATH}"
DATA=${DATA:-../shared/data/nips17_dev}
RUN=${RUN:-/tmp/advengine-hgd}
OUT=${OUT:-$RUN}
STEPS=${STEPS:-3000}
BATCH=${BATCH:-32}
CHANNELS=${CHANNELS:-16,32,64,128}
LR=${LR:-0.002}
CROP=${CROP:-224}
LIMIT=${LIMIT:-600}
DRAWS=${DRAWS:-4}
GUIDE=${GUIDE:-efficientnet-lite0}
DEPLOY=${DEPLOY:-efficientnet-lite2}
HOLDOUT=${HOLDOUT:-200}
INIT=${INIT:-}
INIT_IMAGES=${INIT_IMAGES:-0}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-100}
LIMIT_S=${LIMIT_S:-3000}
EVAL_N=${EVAL_N:-$HOLDOUT}
EVAL_STEPS=${EVAL_STEPS:-}
mkdir -p "$RUN" "$OUT"
args=(--data "$DATA" --out "$RUN" --steps "$STEPS" --batch-size "$BATCH" --channels "$CHANNELS" --lr "$LR"
      --crop "$CROP" --limit "$LIMIT" --draws "$DRAWS" --target "$GUIDE" --deploy "$DEPLOY"
      --holdout "$HOLDOUT" --checkpoint-every "$CHECKPOINT_EVERY" --json)
[[ -n "$INIT" ]] && args+=(--init "$INIT" --init-images "$INIT_IMAGES")
[[ -f "$RUN/checkpoint.npz" ]] && args+=(--resume)
echo "[train_hgd] training: ${args[*]} (limit ${LIMIT_S} s)"
t0=$SECONDS
timeout --signal=INT "$LIMIT_S" "$PY" -m advengine train hgd "${args[@]}" >"$OUT/train.json"
rc=$?
echo "{\"case\": \"train hgd\", \"rc\": $rc, \"wall_s\": $((SECONDS - t0))}"
if (( rc != 0 && rc != 130 )); then
    echo "[train_hgd] training failed (exit $rc)" >&2
    exit "$rc"
fi
eval_args=("$RUN" --data "$DATA" --n "$EVAL_N" --cache "$OUT/results.json" --results-cache "$OUT/results.json"
           --images "$OUT/held_out")
echo "[train_hgd] evaluating: ${eval_args[*]} --steps latest"
"$PY" benches/hgd_eval.py "${eval_args[@]}" --steps latest || exit $?
if [[ -n "$EVAL_STEPS" ]]; then
    "$PY" benches/hgd_eval.py "${eval_args[@]}" --steps "$EVAL_STEPS" --sets mifgsm --no-baselines || exit $?
fi
"$PY" benches/hgd_eval.py "${eval_args[@]}" --no-baselines --plot "$OUT/hgd_curve.png"
