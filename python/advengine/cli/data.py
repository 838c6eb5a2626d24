"""``advengine data``: download, verify and describe NIPS 2017 datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from advengine.cli._app import app, sub_app
from advengine.cli._options import JsonOption, progress_bar, stderr_console
from advengine.data.dataset import load_dataset, resolve_layout
from advengine.data.download import default_threads, download_images, read_download_tasks
from advengine.data.sample import sample_dataset_dir
from advengine.data.verify import LabelStats, VerifyReport, label_stats, verify_dataset
from advengine.errors import DownloadError

data_app = sub_app("Download, verify and describe NIPS 2017 datasets (images/ + dev_dataset.csv).")
app.add_typer(data_app, name="data")

CsvOption = Annotated[
    Path | None,
    typer.Option("--csv", help="The dataset CSV when not DIR/dev_dataset.csv (e.g. after a download)."),
]


def _print_json(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, indent=2))


@data_app.command("download")
def download_command(
    csv_path: Annotated[Path, typer.Argument(metavar="CSV", help="CSV with ImageId, URL, x1, y1, x2, y2.")],
    out_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Where <ImageId>.png files are written.")],
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="Parallel downloads [default: CPUs + 1].")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.001, help="Seconds per network wait.")] = 30.0,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Extra tries after network errors.")] = 3,
    backoff: Annotated[
        float, typer.Option("--backoff", min=0.0, help="Seconds before the first retry; doubles each time.")
    ] = 1.0,
    as_json: JsonOption = False,
) -> None:
    """Download, crop and resize the images of a dataset CSV, as the organisers' script did.

    Existing <ImageId>.png files are skipped, so rerunning resumes. Exits non-zero if any image failed.
    """
    tasks = read_download_tasks(csv_path)
    n_threads = threads or default_threads()
    err = stderr_console()
    err.print(f"Downloading {len(tasks)} images listed in {csv_path} to {out_dir} ({n_threads} threads)")
    with progress_bar(err) as bar:
        job = bar.add_task("download", total=len(tasks))
        summary = download_images(
            tasks,
            out_dir,
            threads=n_threads,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            on_done=lambda _id, _outcome: bar.advance(job),
        )
    if as_json:
        _print_json(summary.to_json())
    else:
        typer.echo(
            f"downloaded {len(summary.downloaded)}, skipped {len(summary.skipped)} (already present), "
            f"failed {len(summary.failed)}"
        )
        for image_id, reason in sorted(summary.failed.items()):
            typer.echo(f"failed {image_id}: {reason}")
    if summary.failed:
        if as_json:
            raise typer.Exit(1)
        raise DownloadError(
            f"{len(summary.failed)} of {len(tasks)} images failed (listed above); "
            "rerun the same command to retry them"
        )


def _labels_line(name: str, stats: LabelStats | None) -> str:
    if stats is None:
        return f"{name}: none (no CSV)"
    return f"{name}: {stats.distinct} distinct, range {stats.low}..{stats.high}"


def _print_summary(report: VerifyReport, *, decoded: bool) -> None:
    typer.echo(f"images dir: {report.images_dir}")
    typer.echo(f"csv: {report.csv_path if report.csv_path else 'none (plain image dir, no labels)'}")
    typer.echo(f"images: {report.num_images}" + (f" (all {report.decoded} decoded)" if decoded else ""))
    typer.echo(_labels_line("TrueLabel", report.true_labels))
    typer.echo(_labels_line("TargetClass", report.target_classes))


@data_app.command("verify")
def verify_command(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Dataset dir (images/ + CSV), dir of PNGs, or the CSV.")
    ],
    csv_path: CsvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a dataset fully, decoding every image.

    Checks CSV columns and rows, labels 1..1000, unique ids, images and rows that match, and that every
    image is a decodable 299x299 8-bit RGB PNG. Lists every problem, one per line on stderr (--json: all
    of them in "problems"), and exits 1 if there is any.
    """
    err = stderr_console()
    err.print(f"Verifying {directory}")
    with progress_bar(err) as bar:
        job = bar.add_task("decode", total=None)

        def advance(n: int, total: int) -> None:
            bar.update(job, advance=n, total=total)

        report = verify_dataset(directory, csv=csv_path, on_progress=advance)
    if as_json:
        _print_json(report.to_json())
        if not report.ok:
            raise typer.Exit(1)
        return
    if not report.ok:
        if len(report.problems) == 1:
            raise report.problems[0].exception()
        for problem in report.problems:
            err.print(f"  {escape(problem.message)}", markup=False)
        first = report.problems[0]
        raise first.error(f"{directory}: {len(report.problems)} problems (each listed above)")
    _print_summary(report, decoded=True)
    typer.echo("ok")


@data_app.command("info")
def info_command(
    directory: Annotated[
        Path | None,
        typer.Argument(metavar="[DIR]", help="Dataset to describe [default: the embedded sample]."),
    ] = None,
    csv_path: CsvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Describe a dataset without decoding its pixels (quick checks only; see verify)."""
    path = sample_dataset_dir() if directory is None else directory
    layout = resolve_layout(path, csv_path)
    ds = load_dataset(path, csv=csv_path)
    report = VerifyReport(
        layout.images_dir,
        layout.csv_path,
        len(ds),
        0,
        label_stats(ds.true_labels),
        label_stats(ds.target_classes),
    )
    if as_json:
        payload = report.to_json()
        del payload["decoded"]
        _print_json(payload)
        return
    _print_summary(report, decoded=False)
