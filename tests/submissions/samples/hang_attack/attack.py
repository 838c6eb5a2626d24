#!/usr/bin/env python3
"""Hostile: ignores SIGTERM, starts a child that sleeps too, and never returns (killed at the limit).
Its processes carry the marker from ./marker.txt in their command line so the test can look for them."""

import signal
import subprocess
import sys
import time

with open("marker.txt") as f:
    marker = f.read().strip()
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", marker])
while True:
    time.sleep(1)
