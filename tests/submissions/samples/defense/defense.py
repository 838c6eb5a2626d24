"""A toy defense: the label is 1 + (mean pixel value mod 1000), written with the quirks the original
parser tolerates (a header row, spaces around labels, a repeated name whose last row wins)."""

import glob
import os
import sys

import numpy as np
from PIL import Image

input_dir, output_file = sys.argv[1], sys.argv[2]
with open(output_file, "w") as out:
    out.write("ImageId,PredictedLabel\n")
    for path in sorted(glob.glob(os.path.join(input_dir, "*.png"))):
        name = os.path.basename(path)
        label = 1 + int(np.asarray(Image.open(path).convert("RGB")).mean() * 10) % 1000
        out.write(f"{name},999\n")
        out.write(f"{name}, {label} \n")
