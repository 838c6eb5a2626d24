#!/usr/bin/env python3
"""Hostile: connects to 127.0.0.1 on the port in ./port.txt (where the test listens) and only writes
its images if the connection worked. In the sandbox there is no network, so it fails."""

import os
import shutil
import socket
import sys

with open("port.txt") as f:
    port = int(f.read())
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.sendall(b"escaped")
for name in os.listdir(sys.argv[1]):
    shutil.copyfile(os.path.join(sys.argv[1], name), os.path.join(sys.argv[2], name))
