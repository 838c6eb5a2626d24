"""The report of a small real run, loaded from file:// in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed by ``make browser-deps``; the test fails, not skips, without them).

Checks: no console errors, nothing fetched from the network, every figure present with a real drawing
in it, every gallery image decoded. It saves a screenshot of the top of the page; set
``ADVENGINE_REPORT_SCREENSHOT=docs/report.png`` to refresh the one the README shows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from advengine.reporting.gallery import IMAGES, SIDE

REPO = Path(__file__).resolve().parents[2]
FIGURES = ["score-rank", "accuracy-heatmap", "hit-heatmap", "eps-defenses", "eps-attacks", "piece-times"]
#: A cheap roster with every kind of entry: baselines, a gradient attack, a targeted attack, a crash.
ROSTER = """
plugins = ["tests.competition.fakes"]
batch_size = 4
time_limit = 120.0
attacks = [
    { name = "noop" },
    { name = "random-noise" },
    { name = "fgsm", label = "fgsm-lite0", models = ["efficientnet-lite0"] },
    { name = "fake-crash", label = "crashes" },
]
targeted_attacks = [
    { name = "step-target-class", label = "step-target-lite0", models = ["efficientnet-lite0"] },
]
defenses = [
    { name = "classifier", label = "base-lite0", models = ["efficientnet-lite0"] },
    { name = "bit-depth", label = "bitdepth5-lite0", models = ["efficientnet-lite0"] },
]
"""


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: run `make browser-deps` (apt-get install chromium chromium-driver)"
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    (tmp / "roster.toml").write_text(ROSTER)
    out = tmp / "run"
    cmd = [sys.executable, "-m", "advengine", "eval", "--config", str(tmp / "roster.toml"), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([*cmd, "--limit", "8"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "warning" not in done.stderr
    return out / "report.html"


@contextlib.contextmanager
def chromium(*args: str) -> Iterator[webdriver.Chrome]:
    """Headless Chromium, its console log kept (the report's and the server pages' tests)."""
    options = webdriver.ChromeOptions()
    options.binary_location = _tool("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", *args):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium then never tries to download a driver or a browser.
    driver = webdriver.Chrome(options=options, service=Service(_tool("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with chromium("--window-size=1360,2100") as driver:
        yield driver


def test_the_report_renders_in_chromium(report: Path, browser: webdriver.Chrome, tmp_path: Path) -> None:
    browser.get(report.resolve().as_uri())
    assert browser.title.startswith("advengine report")

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !n.startsWith('data:') && !n.startsWith('file:'))"
    )
    assert fetched == []

    # Each figure: its <svg> holds a real drawing (elements, text labels) and has a rendered size.
    drawn = browser.execute_script(
        "return [...document.querySelectorAll('figure.plot')].map(f => {"
        "  const s = f.querySelector('svg'); const r = s.getBoundingClientRect();"
        "  return [f.dataset.figure, s.querySelectorAll('*').length, s.querySelectorAll('text').length,"
        "          r.width, r.height]; })"
    )
    assert [d[0] for d in drawn] == FIGURES
    for name, elements, texts, width, height in drawn:
        assert elements >= 30, name
        assert texts >= 5, name
        assert width > 200, name
        assert height > 100, name
    assert browser.execute_script("return document.querySelectorAll('[data-missing-figure]').length") == 0

    # Gallery: clean + 4 attacks that produced images, each with its perturbation (the crash has none).
    images = browser.execute_script(
        "return [...document.querySelectorAll('#gallery img')].map(i => [i.complete, i.naturalWidth])"
    )
    assert len(images) == IMAGES * (1 + 2 * 4)
    assert all(done and width == SIDE for done, width in images)

    failures = browser.execute_script("return document.querySelectorAll('td.status-crashed').length")
    assert failures == 2  # the crashing attack, on both batches
    assert "finished" in browser.find_element("css selector", "header.top h1").text

    shot = Path(os.environ.get("ADVENGINE_REPORT_SCREENSHOT") or tmp_path / "report.png")
    assert browser.save_screenshot(str(shot))
    with Image.open(shot) as img:
        assert img.size[0] >= 1000
        assert len(img.getcolors(1 << 24) or []) > 1000  # a page, not a blank
