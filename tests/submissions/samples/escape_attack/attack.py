#!/usr/bin/env python3
"""Hostile: tries to write outside its output directory (input dir, its code, the root, the paths in
./targets.txt that the test watches) and exits non-zero if any write is refused."""

import os
import sys

targets = [os.path.join(sys.argv[1], "evil.png"), "/code/evil", "/evil", "/usr/evil", "/etc/evil"]
if os.path.exists("targets.txt"):
    with open("targets.txt") as f:
        targets += f.read().split()
refused = 0
for path in targets:
    try:
        with open(path, "w") as f:
            f.write("escaped")
        print("wrote", path)
    except OSError as exc:
        refused += 1
        print("refused", path, exc, file=sys.stderr)
sys.exit(3 if refused else 0)
