"""The pages in headless Chromium (Debian's, as the report test; fails, not skips, without it): a
team signs in and uploads through the form, its submission page follows the evaluation, and the
leaderboard page updates itself when the scores change; no console errors on any page."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from tests.reporting.test_page_in_browser import chromium
from tests.server.conftest import tiny_config
from tests.server.harness import free_port, script_archive, slow_script

from advengine.server import ServerSettings, create_app
from advengine.server.teams import add_team


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL, team token) of a server running in a thread of this process, evaluator included."""
    settings = ServerSettings(config=tiny_config(), state=tmp_path / "state", sandbox="bwrap")
    app = create_app(settings)
    _, token = add_team(app.state.server.sessions, "alpha")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    with chromium() as driver:
        yield driver


def _no_console_errors(browser: webdriver.Chrome) -> None:
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def _names(browser: webdriver.Chrome) -> list[str]:
    cells = browser.find_elements(By.CSS_SELECTOR, "#track-nontargeted tbody tr td:nth-child(2)")
    return [c.text.split("baseline")[0].strip() for c in cells]


def test_upload_through_the_form_and_the_leaderboard_updates(
    live: tuple[str, str], browser: webdriver.Chrome, tmp_path: Path
) -> None:
    url, token = live
    wait = WebDriverWait(browser, 240, poll_frequency=0.3)
    browser.get(f"{url}/leaderboard")
    wait.until(lambda b: "noop" in _names(b))  # the baselines' first pass, shown by the page itself
    _no_console_errors(browser)
    archive = tmp_path / "slow.tar.gz"
    archive.write_bytes(script_archive(slow_script(3)))

    browser.get(f"{url}/team")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "login").click()
    wait.until(lambda b: b.find_elements(By.ID, "upload"))
    browser.find_element(By.ID, "file").send_keys(str(archive))
    Select(browser.find_element(By.ID, "track")).select_by_visible_text("attack")
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda b: "/submissions/" in b.current_url)
    assert browser.find_element(By.ID, "state").text in ("queued", "running")
    _no_console_errors(browser)

    browser.get(f"{url}/leaderboard")
    assert "alpha.slow" not in _names(browser)  # its first batch alone takes 3 s
    browser.execute_script("window.notReloaded = true")
    wait.until(lambda b: "alpha.slow" in _names(b))
    assert browser.execute_script("return window.notReloaded === undefined")  # the page reloaded itself
    _no_console_errors(browser)

    for page in ("/queue", "/rounds/main", "/team", "/submissions/1", "/rounds/main/report.html"):
        browser.get(f"{url}{page}")
        assert "advengine" in browser.title
        _no_console_errors(browser)
    browser.get(f"{url}/submissions/1")
    # The scores are written before the submission is marked done; its page follows by itself.
    wait.until(lambda b: b.find_element(By.ID, "state").text == "done")
    _no_console_errors(browser)
    assert "fooled" in browser.page_source  # its counts against each defense
