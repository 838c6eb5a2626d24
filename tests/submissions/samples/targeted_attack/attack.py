#!/usr/bin/env python3
"""Targeted attack: reads target_class.csv (as the samples did: csv.reader, rows with >= 2 fields) and
writes a pattern derived from each target, at double size, as RGBA, to exercise the resize and mode
repairs of the organiser. Images without a target row are skipped."""

import csv
import os
import sys

import numpy as np
from PIL import Image

input_dir, output_dir, eps = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(os.path.join(input_dir, "target_class.csv")) as f:
    targets = {row[0]: int(row[1]) for row in csv.reader(f) if len(row) >= 2}
for name, target in sorted(targets.items()):
    img = Image.open(os.path.join(input_dir, name)).convert("RGB")
    x = np.asarray(img, dtype=np.int16)
    sign = np.where(np.random.default_rng(target).random(x.shape) < 0.5, -eps, eps)
    adv = Image.fromarray(np.clip(x + sign, 0, 255).astype(np.uint8)).convert("RGBA")
    adv.resize((img.width * 2, img.height * 2)).save(os.path.join(output_dir, name))
print(f"targeted {len(targets)} images")
