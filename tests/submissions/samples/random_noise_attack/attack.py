#!/usr/bin/env python3
"""Random-noise attack: adds uniform noise in [-eps, eps] and writes one PNG per input."""

import glob
import os
import sys

import numpy as np
from PIL import Image

input_dir, output_dir, eps = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
for path in sorted(glob.glob(os.path.join(input_dir, "*.png"))):
    x = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    noise = rng.integers(-eps, eps + 1, size=x.shape)
    Image.fromarray(np.clip(x + noise, 0, 255).astype(np.uint8)).save(
        os.path.join(output_dir, os.path.basename(path))
    )
