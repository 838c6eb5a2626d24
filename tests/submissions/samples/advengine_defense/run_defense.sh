#!/bin/bash
# advengine's own CLI as an original-contract entry point: INPUT_DIR OUTPUT_FILE.
set -euo pipefail
exec advengine defend classifier --models efficientnet-lite0 --data "$1" --out "$2"
