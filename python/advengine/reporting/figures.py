"""The report's figures, drawn by matplotlib and inlined as SVG text (no pyplot, no GUI backend: a
bare :class:`~matplotlib.figure.Figure` renders through the SVG canvas alone).

Text stays text (``svg.fonttype = "none"``): the files are small, the page's fonts apply and the
labels can be searched and copied. Every function returns the ``<svg>`` element as a string.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.typing import RcKeyType

from advengine.competition.scoring import RAW_MODES
from advengine.reporting.rundir import Piece
from advengine.reporting.tables import Row

F64 = npt.NDArray[np.float64]
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
STATUS_COLOURS = {"ok": "#2f6fb0", "crashed": "#c0392b", "timeout": "#d68910"}
TRACK_TITLES = {"defense": "Defenses", "nontargeted": "Non-targeted attacks", "targeted": "Targeted attacks"}

_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "advengine-report",  # stable element ids: the same run gives the same page
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": GRID,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "text.color": INK,
    "legend.frameon": False,
    "figure.dpi": 72,
}


@contextmanager
def _style() -> Iterator[None]:
    with mpl.rc_context(_STYLE):
        yield


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    # Inline SVG: the XML prolog and DOCTYPE belong to standalone files only.
    return text[text.index("<svg") :]


def score_vs_rank(boards: dict[str, list[Row]], mode: str) -> str:
    """The paper's Fig. 2: each track's scores against rank; baselines dashed across the panel."""
    tracks = [t for t in ("defense", "nontargeted", "targeted") if any(r.rank for r in boards.get(t, []))]
    with _style():
        fig = Figure(figsize=(4.2 * len(tracks), 3.6), layout="constrained")
        axes = fig.subplots(1, len(tracks), squeeze=False)[0]
        for ax, track in zip(axes, tracks, strict=True):
            ranked = [r for r in boards[track] if r.rank is not None and r.score is not None]
            ax.plot([r.rank for r in ranked], [float(r.score or 0) for r in ranked], color=MUTED, linewidth=1)
            for baseline in (False, True):
                pick = [r for r in ranked if r.baseline == baseline]
                ax.plot(
                    [r.rank for r in pick],
                    [float(r.score or 0) for r in pick],
                    "o",
                    color=STATUS_COLOURS["ok"],
                    markerfacecolor="white" if baseline else STATUS_COLOURS["ok"],
                    markersize=7,
                    zorder=3,
                    label="baseline" if baseline else "entry",
                )
            # Baselines with the same score share one dashed line and one label.
            at: dict[float, list[str]] = {}
            for r in ranked:
                if r.baseline:
                    at.setdefault(float(r.score or 0), []).append(r.name)
            for score, names in at.items():
                ax.axhline(score, color=MUTED, linestyle="--", linewidth=1)
                ax.annotate(
                    ", ".join(names),
                    (1.0, score),
                    xycoords=("axes fraction", "data"),
                    xytext=(-2, 3),
                    textcoords="offset points",
                    ha="right",
                    fontsize=8,
                    color=MUTED,
                )
            ax.set_title(TRACK_TITLES[track])
            ax.set_xlabel("rank")
            ax.set_xticks(range(1, len(ranked) + 1))
            ax.set_ylabel("score (raw count)" if mode in RAW_MODES else "score")
            if mode not in RAW_MODES:
                ax.set_ylim(-0.02, 1.02)
        blue = STATUS_COLOURS["ok"]
        handles = [
            Line2D([], [], marker="o", color=blue, linestyle="", label="entry"),
            Line2D([], [], marker="o", color=blue, markerfacecolor="white", linestyle="", label="baseline"),
            Line2D([], [], color=MUTED, linestyle="--", label="baseline's score"),
        ]
        fig.legend(handles=handles, loc="outside upper right", ncols=3, fontsize=9)
        return _svg(fig)


def heatmap(values: F64, rows: Sequence[str], cols: Sequence[str], title: str, cmap: str) -> str:
    """A rate matrix in [0, 1] with each cell's value printed; NaN cells (nothing labelled) grey."""
    with _style():
        fig = Figure(figsize=(max(4.0, 1.6 + 1.05 * len(cols)), 1.4 + 0.42 * len(rows)), layout="constrained")
        ax = fig.subplots()
        # The darkest 15 % of the map is dropped so the printed values stay legible.
        base = mpl.colormaps[cmap]
        colours = ListedColormap(base(np.linspace(0.0, 0.85, 256))).with_extremes(bad="#d5d9de")
        # Vector cells (not imshow's embedded bitmap): crisp at any zoom, one path per cell.
        ax.pcolormesh(
            np.ma.masked_invalid(values), cmap=colours, vmin=0.0, vmax=1.0, edgecolors="white", linewidth=1.5
        )
        ax.invert_yaxis()
        for (i, j), v in np.ndenumerate(values):
            text = "–" if math.isnan(v) else f"{v:.2f}"
            dark = not math.isnan(v) and v > 0.55
            ax.text(
                j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=9, color="white" if dark else INK
            )
        ax.set_xticks(np.arange(len(cols)) + 0.5, cols, rotation=30, ha="right")
        ax.set_yticks(np.arange(len(rows)) + 0.5, rows)
        ax.grid(False)
        ax.tick_params(length=0)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel("defense")
        ax.set_ylabel("attack")
        ax.set_title(title, loc="left")
        return _svg(fig)


def eps_lines(
    eps: Sequence[int],
    series: dict[str, F64],
    title: str,
    ylabel: str,
    dashed: frozenset[str] = frozenset(),
    clean: dict[str, float] | None = None,
) -> str:
    """One line per entry across ε; ``clean`` values are drawn at ε = 0, joined by a dotted segment."""
    with _style():
        fig = Figure(figsize=(5.6, 3.6), layout="constrained")
        ax = fig.subplots()
        palette = mpl.colormaps["tab10"]
        for k, (name, ys) in enumerate(series.items()):
            colour = palette(k % 10)
            style = "--" if name in dashed else "-"
            ax.plot(list(eps), ys, style, marker="o", color=colour, label=name, linewidth=1.6)
            if clean is not None and name in clean and not math.isnan(clean[name]) and len(ys):
                ax.plot([0, eps[0]], [clean[name], ys[0]], ":", color=colour, linewidth=1.2)
                ax.plot([0], [clean[name]], marker="s", color=colour)
        ticks = ([0] if clean else []) + list(eps)
        ax.set_xticks(ticks, ["clean" if t == 0 and clean else str(t) for t in ticks])
        ax.set_xlabel("ε (pixel units, 0–255)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(title, loc="left")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
        return _svg(fig)


def piece_times(groups: dict[str, list[Piece]], time_limit: float) -> str:
    """Per entry, a histogram of its pieces' seconds on a log axis that reaches the time limit (the
    red line); failed pieces stack on top in their status colour."""
    seconds = [p.seconds for ps in groups.values() for p in ps if p.seconds > 0]
    lo = max(min(seconds, default=0.01) / 2, 1e-3)
    limited = math.isfinite(time_limit)  # a run without a limit (--time-limit inf) draws no line
    hi = max(max(seconds, default=1.0), time_limit if limited else 1.0) * 1.5
    bins = np.geomspace(lo, hi, 40)
    ncols = 3
    nrows = max(1, math.ceil(len(groups) / ncols))
    with _style():
        fig = Figure(figsize=(12, 1.9 * nrows + 0.3), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
        for ax, (name, pieces) in zip(axes.flat, groups.items(), strict=False):
            # Bars for the filled bins only: hist() would draw every empty bin as an SVG path.
            bottom = np.zeros(len(bins) - 1)
            for status, colour in STATUS_COLOURS.items():
                counts, _ = np.histogram([max(p.seconds, lo) for p in pieces if p.status == status], bins)
                filled = counts > 0
                ax.bar(
                    bins[:-1][filled],
                    counts[filled],
                    width=np.diff(bins)[filled],
                    bottom=bottom[filled],
                    align="edge",
                    color=colour,
                    linewidth=0,
                    label=status,
                )
                bottom += counts
            if limited:
                ax.axvline(time_limit, color="#c0392b", linestyle="--", linewidth=1.2)
            ax.set_xscale("log")
            ax.tick_params(labelbottom=True)  # every panel keeps its scale, not only the bottom row
            count = f"{len(pieces)} piece" + ("" if len(pieces) == 1 else "s")
            ax.set_title(f"{name}  ({count})", loc="left", fontsize=10)
            ax.yaxis.get_major_locator().set_params(integer=True)
        for ax in list(axes.flat)[len(groups) :]:
            ax.set_visible(False)
        fig.supxlabel("seconds per piece (log scale); dashed red line: the time limit", fontsize=10)
        handles = [Patch(color=c, label=s) for s, c in STATUS_COLOURS.items()]
        fig.legend(handles=handles, loc="outside upper right", ncols=3, fontsize=9)
        return _svg(fig)


__all__ = ["eps_lines", "heatmap", "piece_times", "score_vs_rank"]
