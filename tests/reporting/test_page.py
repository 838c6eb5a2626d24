"""report.html from hand-made runs: what it contains, that it needs nothing from the network, partial
runs, relative links, and that a failure at the end of a run is one warning line."""

from __future__ import annotations

import re
from pathlib import Path

from tests.reporting.conftest import Builder, full_run

from advengine.reporting import REPORT_FILE, write_report, write_report_or_warn

ALL_FIGURES = ["accuracy-heatmap", "eps-attacks", "eps-defenses", "hit-heatmap", "piece-times", "score-rank"]


def test_a_full_run_has_every_section_and_figure(builder: Builder) -> None:
    b = builder()
    full_run(b)
    report = write_report(b.root)
    assert report.path == b.root / REPORT_FILE
    assert report.figures == ALL_FIGURES
    assert (report.gallery_images, report.failures, report.missing_pieces) == (4 * 4, 0, 0)
    html = report.path.read_text("utf-8")
    assert report.bytes == len(html.encode())
    for section in (
        "leaderboards",
        "score-rank",
        "heatmaps",
        "eps",
        "gallery",
        "timings",
        "failures",
        "metadata",
    ):
        assert f'<section id="{section}">' in html
    assert html.count("<svg") == len(ALL_FIGURES)
    assert html.count('src="data:image/jpeg;base64,') == 4 * 4 + 4 * 3  # images + perturbations
    assert "true: <b>giant panda</b> (389)" in html  # the first sample image, by class name
    assert "partial run" in html  # no results.json: the hand-made run never finished


def test_the_page_loads_nothing_from_outside(builder: Builder) -> None:
    b = builder()
    full_run(b)
    html = write_report(b.root).path.read_text("utf-8")
    assert "<script" not in html
    # Only data: URIs and relative links; the SVG namespace URIs are names, not requests.
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert "@import" not in html


def test_a_partial_run_shows_what_is_missing(builder: Builder) -> None:
    b = builder()
    b.attack("noop", 0, seconds=0.3)
    b.attack("fgsm-x", 0, status="crashed")
    b.defense("good", "clean", 0, b.truth(0))
    b.defense("good", "noop", 0, b.truth(0))
    report = write_report(b.root)
    assert not report.finished
    assert report.failures == 1
    assert report.missing_pieces > 10
    html = report.path.read_text("utf-8")
    assert "partial run" in html
    assert "defense/bad/noop/b0000" in html
    assert 'href="pieces/attack/fgsm-x/b0000.json"' in html
    assert "RuntimeError: boom" in html
    assert "score-rank" in report.figures


def test_without_the_dataset_the_rest_is_still_drawn(builder: Builder) -> None:
    b = builder(dataset_dir="/nonexistent/dataset")
    full_run(b)
    report = write_report(b.root)
    assert report.figures == ["piece-times"]
    assert report.gallery_images == 0
    assert "/nonexistent/dataset cannot be read" in report.path.read_text("utf-8")


def test_a_report_written_elsewhere_links_back_into_the_run(builder: Builder, tmp_path: Path) -> None:
    b = builder()
    b.attack("noop", 0, status="crashed")
    log = b.root / "logs" / "attack" / "noop" / "b0000"
    log.mkdir(parents=True)
    out = tmp_path / "pages" / "r.html"
    html = write_report(b.root, out).path.read_text("utf-8")
    assert 'href="../run/logs/attack/noop/b0000/stderr.txt"' in html
    assert 'href="../run/pieces/attack/noop/b0000.json"' in html
    assert not (b.root / REPORT_FILE).exists()


def test_a_failing_report_is_one_warning_line(tmp_path: Path) -> None:
    lines: list[str] = []
    assert write_report_or_warn(tmp_path, lines.append) is None
    assert len(lines) == 1
    assert lines[0].startswith("warning: report.html was not written: ConfigError: ")
    assert "\n" not in lines[0]
    assert not (tmp_path / REPORT_FILE).exists()


def test_rules_section_and_strength_column(tmp_path: Path) -> None:
    from advengine.competition import parse_config, run_competition
    from advengine.competition.artefacts import Checked, Finding, RulesReport
    from advengine.competition.rules import save_rules
    from advengine.data import sample_dataset_dir

    cfg = parse_config(
        {
            "plugins": ["tests.competition.fakes"],
            "batch_size": 4,
            "ranking": "strength",
            "dataset": {"dir": str(sample_dataset_dir()), "limit": 4},
            "attacks": [{"name": "noop"}],
            "defenses": [{"name": "fake-constant"}],
        }
    )
    root = tmp_path / "run"
    run_competition(cfg, root)
    html = write_report(root).path.read_text("utf-8")
    assert '<section id="rules">' in html
    assert "Not checked: run <code>advengine check</code>" in html
    assert '<th class="num">strength</th>' in html
    finding = Finding(
        rule="channel", entry="fake-constant", partner="noop", evidence="it reads LSBs", p_value=1e-5
    )
    save_rules(
        root, RulesReport(findings=[finding], checked=[Checked(entry="fake-constant", rules=["channel"])])
    )
    html = write_report(root).path.read_text("utf-8")
    rules = html[html.index('<section id="rules">') : html.index('<section id="metadata">')]
    assert "it reads LSBs" in rules
    assert "1e-05" in rules
    assert "<td>noop</td>" in rules
