"""The downloader against a local threaded HTTP server: no outside network is needed."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from advengine.data import load_dataset
from advengine.data.download import (
    DownloadTask,
    crop_and_resize,
    download_images,
    pixel_box,
    read_download_tasks,
)
from advengine.data.metadata import NIPS17_COLUMNS
from advengine.errors import DatasetError, ParameterError
from advengine.kernels import read_png_batch

from .conftest import rows_for, write_csv

SLOW_S = 3.0


def _jpeg(w: int, h: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    # Smooth content, so JPEG and Lanczos both have something real to work on.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], axis=-1)
    noise = rng.integers(0, 40, size=(h, w, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


class Server:
    def __init__(self) -> None:
        self.files = {"a": _jpeg(640, 480, 1), "b": _jpeg(333, 517, 2), "grey": b""}
        grey = io.BytesIO()
        Image.new("L", (100, 80), 77).save(grey, format="PNG")
        self.files["grey"] = grey.getvalue()
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server.lock:
                    server.hits[self.path] += 1
                    hits = server.hits[self.path]
                kind, _, name = self.path.strip("/").partition("/")
                if kind == "slow":
                    time.sleep(SLOW_S)
                if kind == "flaky" and hits <= 2:
                    self.send_error(503)
                    return
                if kind == "down":
                    self.send_error(500)
                    return
                if kind == "empty":
                    self.send_response(204)
                    self.end_headers()
                    return
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            block_on_close = False

            def handle_error(self, request: object, client_address: object) -> None:
                pass

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def _reference(data: bytes, box: tuple[float, float, float, float]) -> np.ndarray:
    """What the organisers' download_images.py computes, written out independently."""
    im = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = im.size
    x1, y1, x2, y2 = box
    crop = im.crop((int(x1 * w), int(y1 * h), int(x2 * w), int(y2 * h)))
    return np.asarray(crop.resize((299, 299), Image.Resampling.LANCZOS))


def _task(
    image_id: str, url: str, box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
) -> DownloadTask:
    return DownloadTask(image_id, url, box)


def test_pixel_box_truncates() -> None:
    assert pixel_box((0.3333, 0.25, 0.9999, 1.0), 640, 480) == (213, 120, 639, 480)


def test_crop_resize_and_resume(server: Server, tmp_path: Path) -> None:
    tasks = [
        _task("img_a", f"{server.base}/img/a", (0.3333, 0.125, 0.9, 0.87654)),
        _task("img_b", f"{server.base}/img/b", (0.0, 0.464122137, 0.75, 1.0)),
        _task("img_grey", f"{server.base}/img/grey"),
    ]
    events: list[tuple[str, str]] = []
    summary = download_images(
        tasks, tmp_path, threads=3, timeout=5, on_done=lambda i, o: events.append((i, o))
    )
    assert sorted(summary.downloaded) == ["img_a", "img_b", "img_grey"]
    assert summary.failed == {}
    assert summary.skipped == []
    assert sorted(events) == [("img_a", "downloaded"), ("img_b", "downloaded"), ("img_grey", "downloaded")]
    got = read_png_batch([tmp_path / f"{t.image_id}.png" for t in tasks], strict=True)
    for k, (t, name) in enumerate(zip(tasks, ["a", "b", "grey"], strict=True)):
        np.testing.assert_array_equal(got[k], _reference(server.files[name], t.box))
    assert got[2].min() == got[2].max() == 77  # greyscale source converted to RGB
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    # A rerun skips what is there and fetches nothing.
    before = sum(server.hits.values())
    (tmp_path / "img_b.png").unlink()
    again = download_images(tasks, tmp_path, threads=2, timeout=5)
    assert sorted(again.skipped) == ["img_a", "img_grey"]
    assert again.downloaded == ["img_b"]
    assert sum(server.hits.values()) == before + 1


def test_failures_are_reported(server: Server, tmp_path: Path) -> None:
    tasks = [
        _task("missing", f"{server.base}/img/nothing"),
        _task("not_image", f"{server.base}/empty/a"),
        _task("ok", f"{server.base}/img/a"),
    ]
    summary = download_images(tasks, tmp_path, threads=3, timeout=10, retries=1, backoff=0.01)
    assert summary.downloaded == ["ok"]
    assert summary.failed["missing"] == "HTTP 404"
    assert summary.failed["not_image"] == "HTTP 204"
    assert server.hits["/img/nothing"] == 1  # a 404 is final: no retry
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.png"]
    js = summary.to_json()
    assert js["failed"]["missing"] == "HTTP 404"
    assert js["downloaded"] == ["ok"]


def test_timeout_is_retried_then_reported(server: Server, tmp_path: Path) -> None:
    # The server answers after SLOW_S; a timeout well below it stays a timeout on a loaded machine.
    summary = download_images([_task("slow", f"{server.base}/slow/a")], tmp_path, timeout=0.5, retries=1)
    assert summary.failed == {"slow": "timed out after 0.5s after 2 attempts"}
    assert server.hits["/slow/a"] == 2
    assert list(tmp_path.iterdir()) == []


def test_retries_recover_and_give_up(server: Server, tmp_path: Path) -> None:
    tasks = [_task("flaky", f"{server.base}/flaky/a"), _task("down", f"{server.base}/down/a")]
    summary = download_images(tasks, tmp_path, threads=2, timeout=5, retries=2, backoff=0.01)
    assert summary.downloaded == ["flaky"]
    assert server.hits["/flaky/a"] == 3  # two 503s, then the image
    assert summary.failed == {"down": "HTTP 500 after 3 attempts"}
    assert server.hits["/down/a"] == 3
    no_retry = download_images([_task("down2", f"{server.base}/down/b")], tmp_path, timeout=5, retries=0)
    assert no_retry.failed == {"down2": "HTTP 500"}


def test_connection_refused_is_a_failure(tmp_path: Path) -> None:
    s = Server()
    url = f"{s.base}/img/a"
    s.close()
    summary = download_images([_task("gone", url)], tmp_path, retries=0, timeout=2)
    assert summary.failed["gone"].startswith("connection failed")


def test_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="threads"):
        download_images([], tmp_path, threads=0)


def test_read_download_tasks(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    write_csv(p, NIPS17_COLUMNS, rows_for(["a", "b"]))
    tasks = read_download_tasks(p)
    assert tasks[0] == DownloadTask("a", "https://example.org/a.jpg", (0.0, 0.25, 0.75, 1.0))
    rows = rows_for(["a", "b"])
    rows[1][2:6] = ["0.5", "0", "0.4", "1"]
    write_csv(p, NIPS17_COLUMNS, rows)
    with pytest.raises(DatasetError, match=r"d.csv:3: box .* must satisfy 0 <= x1 < x2 <= 1"):
        read_download_tasks(p)
    rows[1][2] = "left"
    write_csv(p, NIPS17_COLUMNS, rows)
    with pytest.raises(DatasetError, match=r"d.csv:3: x1, y1, x2, y2 \(left, 0, 0.4, 1\) must be numbers"):
        read_download_tasks(p)
    rows[1][1] = "file:///etc/passwd"
    write_csv(p, NIPS17_COLUMNS, rows)
    with pytest.raises(DatasetError, match="is not http"):
        read_download_tasks(p)


def test_downloaded_dir_loads_with_the_csv(server: Server, tmp_path: Path) -> None:
    rows = rows_for(["a1", "b2"])
    rows[0][1], rows[1][1] = f"{server.base}/img/a", f"{server.base}/img/b"
    csv_path = tmp_path / "dev_dataset.csv"
    write_csv(csv_path, NIPS17_COLUMNS, rows)
    out = tmp_path / "out"
    summary = download_images(read_download_tasks(csv_path), out, threads=2, timeout=5)
    assert sorted(summary.downloaded) == ["a1", "b2"]
    ds = load_dataset(out, csv=csv_path)
    assert ds.image_ids == ["a1", "b2"]
    assert ds.read_images().shape == (2, 299, 299, 3)
    np.testing.assert_array_equal(ds.read_images(0, 1)[0], _reference(server.files["a"], (0, 0.25, 0.75, 1)))


def test_crop_and_resize_rejects_junk() -> None:
    with pytest.raises(OSError, match="cannot identify image"):
        crop_and_resize(b"junk", (0.0, 0.0, 1.0, 1.0))
