"""Noop attack: writes every input image unchanged (standard library only)."""

import glob
import os
import shutil
import sys

input_dir, output_dir, eps = sys.argv[1], sys.argv[2], int(sys.argv[3])
for path in sorted(glob.glob(os.path.join(input_dir, "*.png"))):
    shutil.copyfile(path, os.path.join(output_dir, os.path.basename(path)))
print(f"noop: copied images with eps={eps}")
