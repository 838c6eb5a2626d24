#!/usr/bin/env python3
"""Hostile: allocates (and touches) 2 GiB, beyond the memory limit the test sets."""

import sys

block = bytearray(2 << 30)
block[:: 1 << 12] = b"x" * len(block[:: 1 << 12])
print("allocated", len(block))
sys.exit(0)
