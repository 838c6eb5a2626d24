#!/bin/bash
# The original contract: INPUT_DIR OUTPUT_FILE.
set -euo pipefail
python3 defense.py "$1" "$2"
