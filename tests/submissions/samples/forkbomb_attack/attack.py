#!/usr/bin/env python3
"""Hostile: a fork bomb. Every process it manages to start prints one line to stdout (so the test
can count them in the logs), then everyone forks again, retrying forever when fork fails. It is bounded
by RLIMIT_NPROC and the time limit; as a last resort it stops forking by itself after 9 rounds (at most
2**9 processes even with no limit at all)."""

import os
import time

depth = 0
while depth < 9:
    try:
        pid = os.fork()
    except OSError:
        time.sleep(0.05)
        continue
    depth += 1
    if pid == 0:
        os.write(1, b"forked\n")
while True:
    time.sleep(0.05)
