#!/usr/bin/env bash
# HGD v2 on ONE CPU core (docs/hgd.md, "HGD v2"), in four phases, each resumable:
#   sets   the held-out sets (the first 200 DEV images: clean, MI-FGSM lite0+lite1 ε16, I-FGSM ε8,
#          made as docs/results.md makes them) and the baselines (lite2, median, rrp, v1) beside them
#   data   the training set: the attacks on the first LIMIT training images (after the 200), cached
#   train  `advengine train hgd`: lite0 guides on CROP-pixel crops, deployed in front of lite2, warm-
#          started from the shipped v1 denoiser; stopped (SIGINT: the last checkpoint is kept) EVAL_S
#          seconds before END_AT, resumed when started again
#   eval   the latest snapshot on the three held-out sets and white-box PGD through it (WHITE_BOX
#          images), EVAL_STEPS on MI-FGSM, the curve (PLOT)
# Every process runs under `taskset -c CORE` with ONNX Runtime's intra-op threads at 1.
#   END_AT=$(date -d 08:55 +%s) bash benches/hgd_cpu.sh            # all phases
#   PHASES=eval EVAL_STEPS=100,200 bash benches/hgd_cpu.sh          # one phase
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CORE=${CORE:-1}
export ADVENGINE_NUM_THREADS=1
export PYTHONPATH="$PWD/python:$PWD/benches${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
DATA=${DATA:-../shared/data/nips17_dev}
RUN=${RUN:-runs/hgd2}
PHASES=${PHASES:-sets,data,train,eval}
END_AT=${END_AT:-$(($(date +%s) + 2400))}
EVAL_S=${EVAL_S:-270}
STEPS=${STEPS:-100000}
GUIDE=${GUIDE:-efficientnet-lite0}
DEPLOY=${DEPLOY:-efficientnet-lite2}
CROP=${CROP:-128}
LIMIT=${LIMIT:-200}
DRAWS=${DRAWS:-2}
BATCH=${BATCH:-8}
LR=${LR:-0.002}
CHANNELS=${CHANNELS:-8,16,32,64}
INIT=${INIT-python/advengine/models/weights/efficientnet-lite2-hgd.onnx}
INIT_IMAGES=${INIT_IMAGES:-4000}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-10}
EVAL_STEPS=${EVAL_STEPS:-spread}
WHITE_BOX=${WHITE_BOX:-20}
SETS=${SETS:-clean,mifgsm,ifgsm}
PLOT=${PLOT:-docs/hgd2_curve.png}
PIN=(taskset -c "$CORE")
log() { echo "[hgd_cpu $(date -u +%H:%M:%S)] $*"; }
has() { [[ ",$PHASES," == *",$1,"* ]]; }

args=(--data "$DATA" --out "$RUN" --target "$GUIDE" --deploy "$DEPLOY" --crop "$CROP" --limit "$LIMIT"
      --draws "$DRAWS" --batch-size "$BATCH" --lr "$LR" --channels "$CHANNELS"
      --checkpoint-every "$CHECKPOINT_EVERY")
[[ -n "$INIT" ]] && args+=(--init "$INIT" --init-images "$INIT_IMAGES")

if has sets; then
    log "held-out sets and baselines"
    "${PIN[@]}" "$PY" benches/hgd_eval.py --data "$DATA" --sets "$SETS" || exit $?
fi
if has data; then
    log "training set: ${args[*]}"
    t0=$SECONDS
    "${PIN[@]}" "$PY" -m advengine train hgd "${args[@]}" --steps 0 || exit $?
    log "training set made in $((SECONDS - t0)) s"
fi
if has train; then
    left=$((END_AT - $(date +%s) - EVAL_S))
    if (( left > 30 )); then
        resume=()
        [[ -f "$RUN/checkpoint.npz" ]] && resume=(--resume)
        log "training for at most $left s"
        timeout --signal=INT "$left" "${PIN[@]}" "$PY" -m advengine train hgd "${args[@]}" --steps "$STEPS" \
            "${resume[@]}" >"$RUN/train.out"
        log "training stopped (exit $?)"
    else
        log "no time left to train ($left s)"
    fi
fi
if has eval; then
    log "evaluating"
    "${PIN[@]}" "$PY" benches/hgd_eval.py "$RUN" --data "$DATA" --sets "$SETS" --steps latest \
        --white-box "$WHITE_BOX" || exit $?
    if [[ -n "$EVAL_STEPS" ]]; then
        "${PIN[@]}" "$PY" benches/hgd_eval.py "$RUN" --data "$DATA" --steps "$EVAL_STEPS" --sets mifgsm \
            --no-baselines || exit $?
    fi
    "${PIN[@]}" "$PY" benches/hgd_eval.py "$RUN" --no-baselines --plot "$PLOT"
    log "done"
fi
