"""The dashboard in a real browser (Debian's chromium + chromedriver through Selenium, no browser download).

One browser session opens every page over a store filled by a real worker, checks the
workers' data is shown, clicks Retry on a failed job and watches it run, sees a new job
appear without a reload, fails on any JavaScript console error, and saves a screenshot of
each page under storage/reports/ for a person to look at.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.dashboard_support import client, seed, stop_worker
from tests.support import ROOT, stop, wait_until, worker_env

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
INSTALL_HINT = "browser tests need Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
REPORTS = ROOT / "storage" / "reports"


def _need_browser() -> None:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    pytest.importorskip("selenium", reason="pip install -r requirements.txt (selenium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """Serve the dashboard with `python artisan queue:dashboard` on a free loopback port (APP_ENV=local: open)."""
    port = _free_port()
    log = open(tmp_path / "dashboard.log", "ab")
    proc = subprocess.Popen([sys.executable, str(ROOT / "artisan"), "queue:dashboard", "--host=127.0.0.1", f"--port={port}"],
                            cwd=ROOT, env=worker_env({"APP_ENV": "local"}), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return urllib.request.urlopen(base + "/horizon/api/csrf", timeout=1).status == 200
        except OSError:
            return False

    try:
        assert wait_until(up, timeout=30), (tmp_path / "dashboard.log").read_text()
        yield base
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium driven by the system chromedriver (selenium-manager is never asked for a browser)."""
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _text(driver: Any) -> str:
    return str(driver.find_element("css selector", "main#content").text)


def _open(driver: Any, url: str, name: str, expect: list[str]) -> None:
    driver.get(url)
    assert wait_until(lambda: all(e in _text(driver) for e in expect), timeout=10), (name, _text(driver)[:2000])
    REPORTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(REPORTS / f"dashboard-{name}.png"))
    assert _console_errors(driver) == [], name


def test_every_page_shows_the_workers_data_and_retry_runs_a_failed_job(tmp_path: Path, browser: Any, dashboard: str):
    seeded, worker = seed("database", tmp_path, {})
    try:
        d, base = browser, dashboard
        flaky = seeded.failed["FlakyJob"]
        _open(d, f"{base}/horizon", "dashboard", ["JOBS PER MINUTE", "FAILED, LAST HOUR", "running", "TaggedJob"])
        assert d.find_elements("css selector", "svg.chart polyline")  # the charts are drawn
        _open(d, f"{base}/horizon/workload", "workload", ["later", "default"])
        _open(d, f"{base}/horizon/metrics?job=TaggedJob", "metrics", ["TaggedJob", "AlwaysFailsJob", "default"])
        d.find_element("css selector", "#metrics-tenant input[name=tenant]").send_keys("acme")  # the tenant filter
        d.find_element("css selector", "#metrics-tenant button").click()
        assert wait_until(lambda: "tenant=acme" in d.current_url and "No metrics yet" in _text(d), timeout=10)
        assert "job=TaggedJob" in d.current_url and "TaggedJob, tenant acme" in _text(d)
        _open(d, f"{base}/horizon/batches", "batches", ["nightly-import", "cancelled"])
        _open(d, f"{base}/horizon/batches/{seeded.batch_id}", "batch", ["nightly-import", "Retry failed jobs"])
        _open(d, f"{base}/horizon/jobs/pending", "pending", ["VaultJob", "user:100", "delayed"])
        _open(d, f"{base}/horizon/jobs/completed", "completed", ["TaggedJob", "CardJob", "<script>alert(1)</script>"])
        _open(d, f"{base}/horizon/jobs/{seeded.vault}", "job-encrypted", ["VaultJob", "[encrypted]"])
        _open(d, f"{base}/horizon/jobs/{seeded.failed['AlwaysFailsJob']}", "job-failed",
              ["AlwaysFailsJob", "ValueError: always fails 7", "Traceback"])
        _open(d, f"{base}/horizon/supervisors", "supervisors", ["standalone", "database:default", " MB", "ago"])

        d.get(f"{base}/horizon/monitoring")
        d.find_element("css selector", "#monitor-form input[name=tag]").send_keys("user:1")
        d.find_element("css selector", "#monitor-form button").click()
        assert wait_until(lambda: "user:1" in _text(d), timeout=10)
        _open(d, f"{base}/horizon/monitoring?tag=user:1", "monitoring", ["Recent jobs tagged", "TaggedJob"])

        _open(d, f"{base}/horizon/jobs/failed", "failed", ["FlakyJob", "AlwaysFailsJob", "flaky first attempt"])
        d.execute_script("window.__noReload = true")
        d.find_element("css selector", f'tr[data-id="{flaky}"] button[data-post$="/retry"]').click()
        assert wait_until(lambda: flaky not in _text(d), timeout=15)  # the live refresh drops it from the list
        assert d.execute_script("return window.__noReload") is True
        assert wait_until(lambda: client().get(f"/horizon/api/jobs/{flaky}").json().get("name") == "FlakyJob"
                          and client().get(f"/horizon/api/jobs/{flaky}").json().get("status") == "completed", timeout=15)
        _open(d, f"{base}/horizon/jobs/{flaky}", "job-retried", ["FlakyJob", "completed"])

        d.get(f"{base}/horizon/jobs/pending")
        d.execute_script("window.__noReload = true")
        from tests.fixtures.dashboard_jobs import TaggedJob

        TaggedJob(str(tmp_path / "w.log"), 4242).on_queue("later").dispatch()
        assert wait_until(lambda: "user:4242" in _text(d), timeout=15)
        assert d.execute_script("return window.__noReload") is True
        assert _console_errors(d) == []
    finally:
        stop_worker(worker)
