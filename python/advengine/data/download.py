"""Re-creating dataset images from their source URLs, as the organisers' ``download_images.py`` did.

Per row: skip if ``<ImageId>.png`` exists (so a rerun resumes), HTTP GET the URL (anything but 200 is
a failure), decode with Pillow, convert to RGB, crop to ``(int(x1·w), int(y1·h), int(x2·w),
int(y2·h))``, resize to 299×299 with Lanczos (aspect ratio not kept) and save a PNG atomically.
Unlike the original, network errors are retried with exponential backoff and every failure is
reported with its reason.
"""

from __future__ import annotations

import http.client
import io
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from advengine import __version__
from advengine.data.images import IMAGE_SIDE
from advengine.data.metadata import ID_COLUMN, read_rows
from advengine.data.problems import Problem
from advengine.errors import DatasetError, ImageFileError, ParameterError
from advengine.kernels import write_png_batch

BOX_COLUMNS = ("x1", "y1", "x2", "y2")
URL_COLUMN = "URL"
#: Longest wait between two attempts, whatever the backoff doubling reaches.
MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class DownloadTask:
    image_id: str
    url: str
    box: tuple[float, float, float, float]


def _box(path: Path, line: int, fields: dict[str, str], problems: list[Problem]) -> tuple[float, ...] | None:
    try:
        x1, y1, x2, y2 = (float(fields[c]) for c in BOX_COLUMNS)
    except ValueError:
        values = ", ".join(fields[c] for c in BOX_COLUMNS)
        problems.append(Problem(DatasetError, f"{path}:{line}: x1, y1, x2, y2 ({values}) must be numbers"))
        return None
    if not (0.0 <= x1 < x2 <= 1.0 and 0.0 <= y1 < y2 <= 1.0):
        problems.append(
            Problem(
                DatasetError,
                f"{path}:{line}: box ({x1}, {y1}, {x2}, {y2}) must satisfy 0 <= x1 < x2 <= 1 "
                "and 0 <= y1 < y2 <= 1 (fractions of the width and height)",
            )
        )
        return None
    return (x1, y1, x2, y2)


def read_download_tasks(csv_path: str | Path) -> list[DownloadTask]:
    """The rows of a dataset CSV as download tasks; the first malformed row raises DatasetError."""
    path = Path(csv_path)
    problems: list[Problem] = []
    rows = read_rows(path, (ID_COLUMN, URL_COLUMN, *BOX_COLUMNS), problems)
    tasks: list[DownloadTask] = []
    for row in rows:
        url = row.fields[URL_COLUMN]
        if not url.lower().startswith(("http://", "https://")):
            problems.append(Problem(DatasetError, f"{path}:{row.line}: URL {url!r} is not http(s)"))
            continue
        box = _box(path, row.line, dict(row.fields), problems)
        if box is not None:
            x1, y1, x2, y2 = box
            tasks.append(DownloadTask(row.image_id, url, (x1, y1, x2, y2)))
    if problems:
        raise problems[0].exception()
    if not tasks:
        raise DatasetError(f"{path}: the CSV has a header but no rows")
    return tasks


def pixel_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """The crop box in pixels; ``int()`` truncates, as in the original script."""
    x1, y1, x2, y2 = box
    return (int(x1 * width), int(y1 * height), int(x2 * width), int(y2 * height))


def crop_and_resize(data: bytes, box: tuple[float, float, float, float]) -> npt.NDArray[np.uint8]:
    """Source image bytes → the dataset's uint8 ``[299, 299, 3]`` image."""
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
    px = pixel_box(box, *rgb.size)
    if px[2] <= px[0] or px[3] <= px[1]:
        raise ValueError(f"crop box {px} of a {rgb.size[0]}x{rgb.size[1]} image is empty")
    out = rgb.crop(px).resize((IMAGE_SIDE, IMAGE_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(out, dtype=np.uint8)


class _AttemptFailedError(Exception):
    """A failed attempt; ``retry`` says whether another attempt may succeed."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


def fetch(url: str, timeout: float) -> bytes:
    """The body of a 200 response; _AttemptFailedError otherwise."""
    req = urllib.request.Request(url, headers={"User-Agent": f"advengine/{__version__}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if resp.status != 200:
                raise _AttemptFailedError(f"HTTP {resp.status}", retry=False)
            body: bytes = resp.read()
            return body
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response's socket
        # Client errors are final (a 404 stays a 404); server errors and throttling may pass.
        raise _AttemptFailedError(
            f"HTTP {exc.code}", retry=exc.code >= 500 or exc.code in (408, 429)
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise _AttemptFailedError(f"timed out after {timeout:g}s", retry=True) from None
        raise _AttemptFailedError(f"connection failed: {reason}", retry=True) from None
    except TimeoutError:
        raise _AttemptFailedError(f"timed out after {timeout:g}s", retry=True) from None
    except (http.client.HTTPException, OSError) as exc:
        raise _AttemptFailedError(f"connection failed: {type(exc).__name__}: {exc}", retry=True) from None


def download_one(task: DownloadTask, out_dir: Path, *, timeout: float, retries: int, backoff: float) -> None:
    """Fetches, converts and atomically saves one image; _AttemptFailedError with the reason if it cannot."""
    attempt = 0
    while True:
        try:
            data = fetch(task.url, timeout)
            break
        except _AttemptFailedError as exc:
            if not exc.retry or attempt >= retries:
                suffix = f" after {attempt + 1} attempts" if attempt else ""
                raise _AttemptFailedError(f"{exc}{suffix}", retry=False) from None
            time.sleep(min(backoff * 2**attempt, MAX_BACKOFF_S))
            attempt += 1
    try:
        image = crop_and_resize(data, task.box)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _AttemptFailedError(f"not a usable image: {exc}", retry=False) from None
    try:
        write_png_batch(image[None], [out_dir / f"{task.image_id}.png"])
    except ImageFileError as exc:
        raise _AttemptFailedError(f"cannot save: {exc}", retry=False) from None


@dataclass
class DownloadSummary:
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: ImageId → why it failed.
    failed: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "downloaded": sorted(self.downloaded),
            "skipped": sorted(self.skipped),
            "failed": dict(sorted(self.failed.items())),
        }


def default_threads() -> int:
    """cpu_count + 1, the original script's default (the work is mostly waiting on the network)."""
    return (os.cpu_count() or 1) + 1


def download_images(
    tasks: Sequence[DownloadTask],
    out_dir: str | Path,
    *,
    threads: int | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    on_done: Callable[[str, str], None] | None = None,
) -> DownloadSummary:
    """Downloads every task whose ``<ImageId>.png`` is not yet in ``out_dir``.

    ``on_done(image_id, outcome)`` is called once per task with outcome "skipped", "downloaded" or
    "failed". On Ctrl-C the queued tasks are cancelled; saved images stay, so a rerun resumes.
    """
    n_threads = default_threads() if threads is None else threads
    if n_threads < 1 or timeout <= 0 or retries < 0 or backoff < 0:
        raise ParameterError("threads must be >= 1, timeout > 0, retries >= 0 and backoff >= 0")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"{out}: cannot create the output dir ({exc.strerror or exc})") from None
    summary = DownloadSummary()
    todo: list[DownloadTask] = []
    for task in tasks:
        if (out / f"{task.image_id}.png").exists():
            summary.skipped.append(task.image_id)
            if on_done is not None:
                on_done(task.image_id, "skipped")
        else:
            todo.append(task)
    pool = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="advengine-download")
    try:
        futures: dict[Future[None], DownloadTask] = {
            pool.submit(download_one, t, out, timeout=timeout, retries=retries, backoff=backoff): t
            for t in todo
        }
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                fut.result()
            except _AttemptFailedError as exc:
                summary.failed[task.image_id] = str(exc)
                outcome = "failed"
            else:
                summary.downloaded.append(task.image_id)
                outcome = "downloaded"
            if on_done is not None:
                on_done(task.image_id, outcome)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return summary


__all__ = [
    "DownloadSummary",
    "DownloadTask",
    "crop_and_resize",
    "default_threads",
    "download_images",
    "pixel_box",
    "read_download_tasks",
]
