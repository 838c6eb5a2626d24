"""PNG size and mode from the 33-byte header, so a dataset is checked without decoding pixels.

Full decoding (``Dataset.read_images``, ``verify``) goes through the Rust codec; this is the cheap
first pass that names a wrong-size or wrong-mode file before any batch work starts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from advengine.errors import ImageError

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_NAMES = {0: "greyscale", 2: "RGB", 3: "palette", 4: "greyscale+alpha", 6: "RGBA"}
_RGB = 2


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    bit_depth: int
    color_type: int

    @property
    def mode(self) -> str:
        """The mode in the codec's words, e.g. ``8-bit RGB`` or ``8-bit RGBA``."""
        name = _COLOR_NAMES.get(self.color_type, f"colour type {self.color_type}")
        return f"{self.bit_depth}-bit {name}"

    @property
    def is_rgb8(self) -> bool:
        return self.color_type == _RGB and self.bit_depth == 8


def read_png_header(path: Path) -> PngHeader:
    """The IHDR fields of ``path``; ImageError (one line) if it is missing or not a PNG."""
    try:
        with path.open("rb") as f:
            head = f.read(33)
    except FileNotFoundError:
        raise ImageError(f"{path}: image file is missing") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the image ({exc.strerror or exc})") from None
    if len(head) < 33 or head[:8] != _SIGNATURE or head[12:16] != b"IHDR":
        raise ImageError(f"{path}: not a PNG file (bad signature or header); re-create or re-download it")
    width, height, depth, color = struct.unpack(">IIBB", head[16:26])
    return PngHeader(width, height, depth, color)


def header_problem(path: Path, side: int) -> str | None:
    """Why ``path`` is not a ``side``×``side`` 8-bit RGB PNG, or None if its header says it is."""
    h = read_png_header(path)
    if (h.width, h.height) != (side, side):
        return f"{path}: size is {h.width}x{h.height}, expected {side}x{side}; resize it to {side}x{side}"
    if not h.is_rgb8:
        return f"{path}: mode is {h.mode}, expected 8-bit RGB; convert it to RGB (no alpha, 8 bits)"
    return None


__all__ = ["PngHeader", "header_problem", "read_png_header"]
