"""``report.html``: one self-contained page (figures as inline SVG, gallery images as data URIs, no
script, no network) rendered from the jinja2 template bundled in ``templates/``."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup

from advengine.files import atomic_write
from advengine.reporting import figures
from advengine.reporting.environment import environment
from advengine.reporting.gallery import SIDE, gallery
from advengine.reporting.rundir import TRACKS, RunView, load_run
from advengine.reporting.tables import Row, clean_accuracy, eps_curves, leaderboard, rate_matrix

REPORT_FILE = "report.html"
STAGES = {
    "attack_stage": "attack stage (wall)",
    "defense_stage": "defense stage (wall)",
    "scoring": "scoring",
    "reports": "CSV and Markdown reports",
    "attack": "attack pieces (summed)",
    "defense": "defense pieces (summed)",
    "projection": "projection (summed)",
    "io": "PNG reads and writes (summed)",
    "startup": "process start-up before the run",
    "build": "building pieces (summed)",
    "warmup": "warming pieces up (summed)",
}

#: The ε figures' title and y-axis label.
_EPS_AXES = {
    "eps-defenses": ("Accuracy against ε, per defense (all attacks' images)", "accuracy"),
    "eps-attacks": (
        "Success against ε, per attack (all defenses)",
        "error rate (solid) / target-hit rate (dashed)",
    ),
}


@dataclasses.dataclass(frozen=True)
class Report:
    """What was written: the file, its size, and what it shows."""

    path: Path
    bytes: int
    finished: bool
    figures: list[str]
    gallery_images: int
    failures: int
    missing_pieces: int

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "path": str(self.path)}


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _seconds(value: Any) -> str:
    if value is None:
        return "–"
    v = float(value)
    if math.isinf(v):
        return "none"
    if v >= 60:
        return f"{int(v // 60)} min {v % 60:.0f} s"
    return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"


def _figures(view: RunView, boards: dict[str, list[Row]]) -> tuple[dict[str, Markup], dict[str, str]]:
    """The figures that can be drawn, and for the others the reason they cannot."""
    out: dict[str, Markup] = {}
    why: dict[str, str] = {}
    if any(r.rank for rows in boards.values() for r in rows):
        out["score-rank"] = Markup(figures.score_vs_rank(boards, view.mode))
    else:
        why["score-rank"] = "no entry has a score yet"
    accuracy = rate_matrix(view, "correct")
    if accuracy is not None and view.attacks and view.defenses:
        values = np.vstack([clean_accuracy(view)[None, :], accuracy])
        out["accuracy-heatmap"] = Markup(
            figures.heatmap(
                values,
                ["clean images", *(a.label for a in view.attacks)],
                [d.label for d in view.defenses],
                "Accuracy",
                "Blues",
            )
        )
    else:
        why["accuracy-heatmap"] = "no attack and defense have both run yet"
    targeted = [k for k, a in enumerate(view.attacks) if a.track == "targeted"]
    targeted_labels = [view.attacks[k].label for k in targeted]
    hits = rate_matrix(view, "hit")
    if hits is not None and targeted and view.defenses:
        out["hit-heatmap"] = Markup(
            figures.heatmap(
                hits[targeted],
                targeted_labels,
                [d.label for d in view.defenses],
                "Target-hit rate",
                "Oranges",
            )
        )
    else:
        why["hit-heatmap"] = "the roster has no targeted attack" if not targeted else "no labels yet"
    curves = eps_curves(view)
    if curves is not None and view.defenses and view.attacks:
        clean = dict(zip((d.label for d in view.defenses), clean_accuracy(view).tolist(), strict=True))
        # One line per entry: each defense's accuracy (its clean accuracy drawn at ε = 0), and each
        # attack's success (targeted ones dashed).
        per_entry = [
            ("eps-defenses", view.defenses, curves.defense_accuracy, clean, frozenset[str]()),
            ("eps-attacks", view.attacks, curves.attack_success, None, frozenset(targeted_labels)),
        ]
        for key, entries, rows, start, dashed in per_entry:
            title, ylabel = _EPS_AXES[key]
            series = {e.label: rows[k] for k, e in enumerate(entries)}
            out[key] = Markup(
                figures.eps_lines(curves.eps, series, title, ylabel, dashed=dashed, clean=start)
            )
    else:
        reason = view.truth_error or "no attack and defense have both run yet"
        why["eps-defenses"] = why["eps-attacks"] = reason
    groups = {
        e.label: [p for p in view.pieces if p.entry == e.label]
        for e in (*view.attacks, *view.defenses)
        if any(p.entry == e.label for p in view.pieces)
    }
    if groups:
        out["piece-times"] = Markup(figures.piece_times(groups, view.time_limit))
    else:
        why["piece-times"] = "no piece has finished yet"
    return out, why


def _stage_times(view: RunView) -> list[tuple[str, str]]:
    timings = (view.results or {}).get("timings")
    if timings:
        return [(label, _seconds(timings[key])) for key, label in STAGES.items() if key in timings]
    # A partial run has no stage clocks; the pieces' own times are all there is.
    return [
        (f"{kind} pieces so far (summed)", _seconds(sum(p.seconds for p in view.pieces if p.kind == kind)))
        for kind in ("attack", "defense")
    ]


def _failures(view: RunView) -> list[dict[str, Any]]:
    return [
        {
            "piece": p.piece_id,
            "status": p.status,
            "seconds": _seconds(p.seconds),
            "error": p.error or "",
            "record": p.record,
            "log": p.log,
        }
        for p in view.pieces
        if p.status != "ok"
    ]


def context(view: RunView, links: str = ".") -> dict[str, Any]:
    """Everything the template shows; ``links`` is the run dir as seen from the page's folder."""
    boards = {t: leaderboard(view, t) for t in TRACKS}
    figs, why = _figures(view, boards)
    items = gallery(view)
    truth = view.truth
    expected = len(view.pieces) + len(view.missing)
    dataset = view.config.get("dataset", {})
    return {
        "view": view,
        "run_name": view.root.resolve().name,
        "boards": boards,
        "track_titles": figures.TRACK_TITLES,
        "figures": figs,
        "why": why,
        "gallery": items,
        "gallery_side": SIDE,
        "failures": _failures(view),
        "links": "" if links == "." else links.rstrip("/") + "/",
        "exclusions": [
            {"track": r_track, "name": r.name, "reason": r.reason}
            for r_track, rows in boards.items()
            for r in rows
            if r.excluded
        ],
        "missing": view.missing,
        "pieces_done": len(view.pieces),
        "pieces_expected": expected,
        "images": len(truth.dataset) if truth else (view.results or {}).get("dataset", {}).get("images"),
        "batches": [(b.index, b.stop - b.start, b.eps) for b in truth.batches] if truth else [],
        "dataset_dir": dataset.get("dir") or "the embedded 100-image sample",
        "stages": _stage_times(view),
        "environment": environment(),
        "config_json": json.dumps(view.config, indent=2),
        "rules": (view.results or {}).get("rules"),
        "strength": (view.results or {}).get("ranking") == "strength",
        "fmt": _fmt,
        "seconds": _seconds,
    }


def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("advengine.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


def render(view: RunView, links: str = ".") -> tuple[str, dict[str, Any]]:
    ctx = context(view, links)
    return _template().render(**ctx), ctx


def write_report(run_dir: Path, out: Path | None = None) -> Report:
    """Write the report of the run in ``run_dir`` (finished or partial) to ``out`` (default
    ``run_dir/report.html``). Links to logs are relative to the run dir, so a report written
    elsewhere links to them through a relative path from its own folder."""
    view = load_run(run_dir)
    path = out if out is not None else run_dir / REPORT_FILE
    links = Path(os.path.relpath(run_dir.resolve(), path.resolve().parent)).as_posix()
    html, ctx = render(view, links)
    atomic_write(path, html)
    return Report(
        path=path,
        bytes=len(html.encode("utf-8")),
        finished=view.finished,
        figures=sorted(ctx["figures"]),
        gallery_images=sum(1 for it in ctx["gallery"] for row in it.rows if row.image),
        failures=len(ctx["failures"]),
        missing_pieces=len(view.missing),
    )


def write_report_or_warn(run_dir: Path, warn: Callable[[str], None]) -> Report | None:
    """:func:`write_report` for the end of ``advengine eval``: the run's results are already on disk,
    so whatever goes wrong here becomes one warning line instead of failing the run."""
    try:
        return write_report(run_dir)
    except Exception as exc:  # a broken report must never cost the run
        warn(f"warning: report.html was not written: {type(exc).__name__}: {' '.join(str(exc).split())}")
        return None


__all__ = ["REPORT_FILE", "Report", "context", "render", "write_report", "write_report_or_warn"]
