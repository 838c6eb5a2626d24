"""PNG batch codec hardening: every malformed input is either converted as documented (compared
with Pillow's convert("RGB") where Pillow agrees) or refused with ImageDecodeError naming the image."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from advengine import kernels
from advengine.errors import ImageDecodeError, ImageFileError, ShapeError

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(w: int, h: int, depth: int, color: int, rows: list[bytes], extra: bytes = b"") -> bytes:
    """A PNG written by hand, so the tests can produce what encoders refuse to."""
    raw = b"".join(b"\0" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + extra
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def pillow_png(im: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


GOOD = pillow_png(Image.fromarray(RGB))
PALETTE = Image.fromarray(RGB).quantize(16)
CONVERTED = {
    "greyscale": pillow_png(Image.fromarray(RGB[..., 0])),
    "greyscale+alpha": pillow_png(Image.fromarray(np.dstack([RGB[..., 0], RGB[..., 1]]), "LA")),
    "RGBA": pillow_png(Image.fromarray(np.dstack([RGB, RGB[..., :1]]))),
    "palette": pillow_png(PALETTE),
    "palette+tRNS": pillow_png(PALETTE, transparency=0),
    "1-bit": pillow_png(Image.fromarray(RGB[..., 0] > 128)),
}


@pytest.mark.parametrize("name", sorted(CONVERTED))
def test_non_rgb_modes_convert_like_pillow(name: str) -> None:
    blob = CONVERTED[name]
    expected = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
    np.testing.assert_array_equal(kernels.decode_png_batch([GOOD, blob], strict=False)[1], expected)
    with pytest.raises(ImageDecodeError, match=r"image 1: mode is .* expected 8-bit RGB"):
        kernels.decode_png_batch([GOOD, blob])


def test_sixteen_bit_keeps_the_high_byte() -> None:
    rgb16 = RNG.integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    blob = make_png(5, 6, 16, 2, [r.astype(">u2").tobytes() for r in rgb16])
    out = kernels.decode_png_batch([blob], strict=False)[0]
    np.testing.assert_array_equal(out, (rgb16 >> 8).astype(np.uint8))
    np.testing.assert_array_equal(out, np.asarray(Image.open(io.BytesIO(blob)).convert("RGB")))
    # 16-bit greyscale: Pillow saturates I;16 at 255 on convert("RGB"); the kernel keeps the high byte.
    grey16 = RNG.integers(0, 65536, (6, 5), dtype=np.uint16)
    blob = make_png(5, 6, 16, 0, [r.astype(">u2").tobytes() for r in grey16])
    out = kernels.decode_png_batch([blob], strict=False)[0]
    np.testing.assert_array_equal(out, np.repeat((grey16 >> 8).astype(np.uint8)[..., None], 3, axis=2))
    with pytest.raises(ImageDecodeError, match="16-bit"):
        kernels.decode_png_batch([blob])


def _bad_crc(kind: bytes) -> bytes:
    bad = bytearray(GOOD)
    i = bad.index(kind)
    (length,) = struct.unpack(">I", bad[i - 4 : i])
    bad[i + 4 + length] ^= 0xFF
    return bytes(bad)


BROKEN = {
    "empty": b"",
    "garbage": b"definitely not a png",
    "signature only": GOOD[:8],
    "truncated header": GOOD[:20],
    "truncated data": GOOD[: len(GOOD) // 2],
    "IDAT CRC": _bad_crc(b"IDAT"),
    "IHDR CRC": _bad_crc(b"IHDR"),
    "no IDAT": GOOD[: GOOD.index(b"IDAT") - 4] + chunk(b"IEND", b""),
    "short rows": make_png(5, 6, 8, 2, [bytes(15)] * 3),
    "bad bit depth": make_png(5, 6, 7, 2, [bytes(15)] * 6),
    "zero size": make_png(0, 0, 8, 2, []),
    "bomb": make_png(100_000, 100_000, 8, 2, []),
    "jpeg": (lambda b: (Image.fromarray(RGB).save(b, "JPEG"), b.getvalue())[1])(io.BytesIO()),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("strict", [True, False])
def test_broken_files_are_refused_naming_the_image(name: str, strict: bool) -> None:
    with pytest.raises(ImageDecodeError, match=r"^image 2: "):
        kernels.decode_png_batch([GOOD, GOOD, BROKEN[name]], strict=strict, size=(6, 5))


def test_read_batch_names_the_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    good.write_bytes(GOOD)
    bad.write_bytes(BROKEN["truncated data"])
    np.testing.assert_array_equal(kernels.read_png_batch([good])[0], RGB)
    with pytest.raises(ImageFileError, match=r"bad\.png"):
        kernels.read_png_batch([good, bad])
    with pytest.raises(ImageFileError, match=r"missing\.png"):
        kernels.read_png_batch([good, tmp_path / "missing.png"])


def test_round_trip_and_atomic_write(tmp_path: Path) -> None:
    x = RNG.integers(0, 256, (3, 7, 9, 3), dtype=np.uint8)
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    kernels.write_png_batch(x, paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.png", "1.png", "2.png"]  # no temp files left
    np.testing.assert_array_equal(kernels.read_png_batch(paths), x)
    for fast in (True, False):
        np.testing.assert_array_equal(kernels.decode_png_batch(kernels.encode_png_batch(x, fast=fast)), x)
    with pytest.raises(ShapeError):
        kernels.encode_png_batch(np.zeros((2, 3, 3), np.uint8))


def test_messages_are_one_clean_line_with_a_fix() -> None:
    with pytest.raises(ImageDecodeError) as crc:
        kernels.decode_png_batch([BROKEN["IDAT CRC"]])
    msg = str(crc.value)
    assert "IDAT" in msg
    assert "ChunkType" not in msg
    assert "\n" not in msg
    assert "re-save the file as an 8-bit RGB PNG" in msg
    with pytest.raises(ImageDecodeError, match="decode with strict=False"):
        kernels.decode_png_batch([CONVERTED["RGBA"]])
