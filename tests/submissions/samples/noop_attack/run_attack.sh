#!/bin/bash
# The original sample's contract in shell: INPUT_DIR OUTPUT_DIR MAX_EPSILON; copies every image.
set -euo pipefail
exec python3 noop.py "$1" "$2" "$3"
