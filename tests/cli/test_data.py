"""``advengine data``: verify, info and download through main(), as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from advengine.cli import main
from advengine.data import sample_dataset_dir
from advengine.data.metadata import NIPS17_COLUMNS
from advengine.kernels import write_png_batch

Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADVENGINE_DEBUG", raising=False)


def _row(image_id: str, url: str, true: int) -> list[str]:
    return [image_id, url, "0", "0", "1", "1", str(true), "7", "", "cc-by-2.0", "A, B", ""]


def _dataset(root: Path, ids: list[str]) -> Path:
    (root / "images").mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 256, size=(len(ids), 299, 299, 3), dtype=np.uint8)
    write_png_batch(pixels, [root / "images" / f"{i}.png" for i in ids], fast=True)
    with (root / "dev_dataset.csv").open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(NIPS17_COLUMNS)
        w.writerows(_row(i, f"http://x/{i}", 3 + k) for k, i in enumerate(ids))
    return root


def test_verify_ok(tmp_path: Path, capsys: Capsys) -> None:
    root = _dataset(tmp_path / "d", ["a", "b"])
    assert main(["data", "verify", str(root)]) == 0
    out = capsys.readouterr().out
    assert "images: 2 (all 2 decoded)" in out
    assert "TrueLabel: 2 distinct, range 3..4" in out
    assert out.strip().endswith("ok")


def test_verify_reports_every_bad_file_then_one_error_line(tmp_path: Path, capsys: Capsys) -> None:
    root = _dataset(tmp_path / "d", ["a", "b"])
    Image.new("RGB", (10, 10)).save(root / "images" / "a.png")
    (root / "images" / "b.png").unlink()
    assert main(["data", "verify", str(root)]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1
    assert "2 problems (each listed above)" in lines[0]
    assert any("b.png: image is missing" in ln for ln in err.splitlines())
    assert any("a.png" in ln and "size is 10x10" in ln for ln in err.splitlines())
    assert "Traceback" not in err


def test_verify_with_one_problem_is_that_line(tmp_path: Path, capsys: Capsys) -> None:
    root = _dataset(tmp_path / "d", ["a", "b"])
    (root / "images" / "b.png").unlink()
    assert main(["data", "verify", str(root)]) == 1
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1
    assert "b.png: image is missing" in lines[0]


def test_verify_json_lists_every_problem(tmp_path: Path, capsys: Capsys) -> None:
    root = _dataset(tmp_path / "d", ["a", "b"])
    Image.new("RGB", (10, 10)).save(root / "images" / "a.png")
    (root / "images" / "b.png").unlink()
    assert main(["data", "verify", str(root), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [p["error"] for p in report["problems"]] == ["ImageError", "ImageError"]
    assert "size is 10x10" in report["problems"][1]["message"]


def test_verify_with_explicit_csv(tmp_path: Path, capsys: Capsys) -> None:
    root = _dataset(tmp_path / "d", ["a"])
    assert (
        main(["data", "verify", str(root / "images"), "--csv", str(root / "dev_dataset.csv"), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["true_labels"] == {"distinct": 1, "min": 3, "max": 3}


def test_info_defaults_to_the_sample(capsys: Capsys) -> None:
    assert main(["data", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["images"] == 100
    assert info["csv"] == str(sample_dataset_dir() / "dev_dataset.csv")
    assert 1 <= info["true_labels"]["min"] <= info["true_labels"]["max"] <= 1000
    assert main(["data", "info"]) == 0
    assert "images: 100" in capsys.readouterr().out


def test_info_bad_dir(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["data", "info", str(tmp_path / "none")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.fixture
def png_server() -> Iterator[str]:
    buf = Image.new("RGB", (40, 30), (200, 10, 10))
    data = io.BytesIO()
    buf.save(data, format="PNG")
    body = data.getvalue()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/ok":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download(png_server: str, tmp_path: Path, capsys: Capsys) -> None:
    csv_path = tmp_path / "dev_dataset.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(NIPS17_COLUMNS)
        w.writerow(_row("good", f"{png_server}/ok", 5))
        w.writerow(_row("bad", f"{png_server}/gone", 6))
    out = tmp_path / "out"
    args = ["data", "download", str(csv_path), str(out), "--threads", "2", "--timeout", "5", "--retries", "0"]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "downloaded 1, skipped 0 (already present), failed 1" in captured.out
    assert "failed bad: HTTP 404" in captured.out
    assert "error: 1 of 2 images failed" in captured.err
    assert (out / "good.png").is_file()
    assert main([*args, "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"downloaded": [], "skipped": ["good"], "failed": {"bad": "HTTP 404"}}
    # The good image verifies against the same CSV once the bad row is gone.
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(lines[:2]) + "\n")
    assert main(["data", "download", str(csv_path), str(out), "--json"]) == 0
    assert main(["data", "verify", str(out), "--csv", str(csv_path)]) == 0


def test_download_bad_csv(tmp_path: Path, capsys: Capsys) -> None:
    p = tmp_path / "d.csv"
    p.write_text("ImageId,URL\na,http://x\n")
    assert main(["data", "download", str(p), str(tmp_path / "o")]) == 1
    assert "missing column(s) x1, y1, x2, y2" in capsys.readouterr().err


def test_help() -> None:
    for cmd in (["data", "--help"], ["data", "download", "--help"], ["data", "verify", "--help"]):
        assert main(cmd) == 0
