from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from advengine.data.png_header import header_problem, read_png_header
from advengine.errors import ImageError


def _save(path: Path, mode: str, size: tuple[int, int] = (299, 299)) -> Path:
    Image.new(mode, size).save(path)
    return path


def test_reads_size_and_mode(tmp_path: Path) -> None:
    h = read_png_header(_save(tmp_path / "a.png", "RGB", (7, 5)))
    assert (h.width, h.height, h.mode, h.is_rgb8) == (7, 5, "8-bit RGB", True)
    assert read_png_header(_save(tmp_path / "b.png", "RGBA")).mode == "8-bit RGBA"
    assert read_png_header(_save(tmp_path / "c.png", "L")).mode == "8-bit greyscale"


def test_header_problem(tmp_path: Path) -> None:
    assert header_problem(_save(tmp_path / "ok.png", "RGB"), 299) is None
    assert "size is 300x299" in str(header_problem(_save(tmp_path / "w.png", "RGB", (300, 299)), 299))
    assert "mode is 8-bit RGBA" in str(header_problem(_save(tmp_path / "m.png", "RGBA"), 299))
    Image.fromarray(np.zeros((299, 299), np.uint16)).save(tmp_path / "d.png")
    assert "16-bit greyscale" in str(header_problem(tmp_path / "d.png", 299))


def test_not_a_png_or_missing(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "j.png", format="JPEG")
    with pytest.raises(ImageError, match="not a PNG"):
        read_png_header(tmp_path / "j.png")
    with pytest.raises(ImageError, match="missing"):
        read_png_header(tmp_path / "nope.png")
