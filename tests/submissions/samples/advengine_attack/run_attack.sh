#!/bin/bash
# advengine's own CLI as an original-contract entry point: INPUT_DIR OUTPUT_DIR MAX_EPSILON.
set -euo pipefail
exec advengine attack random-noise --data "$1" --out "$2" --eps "$3"
