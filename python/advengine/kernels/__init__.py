"""Rust kernels for the hot non-NN paths, with the GIL released and rayon over the batch.

Array contract: images are ``uint8`` arrays of shape ``[n, h, w, 3]`` (NHWC, RGB); float variants
take ``float32``. Inputs are made C-contiguous here, so callers may pass views. The thread count comes
from ``ADVENGINE_NUM_THREADS`` (default: all logical CPUs). See docs/kernels.md.
"""

from advengine.kernels.bit_depth import bit_depth
from advengine.kernels.clip import clip_linf, clip_linf_f32
from advengine.kernels.codec import decode_png_batch, encode_png_batch, read_png_batch, write_png_batch
from advengine.kernels.jpeg import jpeg_roundtrip
from advengine.kernels.median import median_filter
from advengine.kernels.resize import resize
from advengine.kernels.resize_pad import random_resize_pad, resize_pad
from advengine.kernels.scoring import MISSING, NO_IMAGE, Scores, score
from advengine.kernels.threads import num_threads

__all__ = [
    "MISSING",
    "NO_IMAGE",
    "Scores",
    "bit_depth",
    "clip_linf",
    "clip_linf_f32",
    "decode_png_batch",
    "encode_png_batch",
    "jpeg_roundtrip",
    "median_filter",
    "num_threads",
    "random_resize_pad",
    "read_png_batch",
    "resize",
    "resize_pad",
    "score",
    "write_png_batch",
]
