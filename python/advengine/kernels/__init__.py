"""Rust kernels for the hot non-NN paths, with the GIL released and rayon over the batch.

Array contract: images are ``uint8`` arrays of shape ``[n, h, w, 3]`` (NHWC, RGB); float variants
take ``float32``. Inputs are made C-contiguous here, so callers may pass views. The thread count comes
from ``ADVENGINE_NUM_THREADS`` (default: all logical CPUs).
"""

from advengine.kernels.clip import clip_linf, clip_linf_f32
from advengine.kernels.codec import decode_png_batch, encode_png_batch, read_png_batch, write_png_batch
from advengine.kernels.threads import num_threads

__all__ = [
    "clip_linf",
    "clip_linf_f32",
    "decode_png_batch",
    "encode_png_batch",
    "num_threads",
    "read_png_batch",
    "write_png_batch",
]
