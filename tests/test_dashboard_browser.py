"""The dashboard in a real headless browser: Debian's chromium driven by Playwright.

Opens the overview, submits a job through the API and sees it appear without a reload, runs it
with a simulated pilot (clock advanced from the page's buttons), opens its job page, adds a fault
rule through the form and sees the next API call fail. Screenshots go to ``test-artifacts/``.
Skipped only when no chromium can be found (``.ci/run`` installs one).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import requests

from pandamock.app import create_app, emulator_of
from pandamock.engine.records import FILE_ATTRIBUTES, JOB_ATTRIBUTES
from pandamock.server import MockServer
from pandamock.simulate import Fleet

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
UI = "/_pandamock/ui"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
JSON = {"Accept": "application/json"}

pytestmark = pytest.mark.slow


def chromium_path() -> str | None:
    """The system's chromium (``PANDAMOCK_TEST_CHROMIUM`` overrides), or None."""
    given = os.environ.get("PANDAMOCK_TEST_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no headless browser found: install chromium (apt-get install chromium; .ci/run does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("no browser driver: the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live():
    app = create_app({"scenario": "default"})
    emulator = emulator_of(app)
    emulator.engine.clock.freeze()  # time moves only when the page's buttons move it
    with MockServer(app, port=0) as server:
        yield server.url, emulator


def submit_job(url: str) -> int:
    """``job/submit`` of one production job (panda-client's serialized JobSpec), highest priority."""
    values = {
        "jobName": "dashboard.e2e.job.1",
        "prodSourceLabel": "managed",
        "computingSite": "BNL_PROD_MCORE",
        "transformation": "Sim_tf.py",
        "jobParameters": "--maxEvents=10",
        "assignedPriority": 99999,
        "currentPriority": 99999,
        "coreCount": 8,
        "attemptNr": 1,
        "maxAttempt": 3,
    }
    log = {
        "type": "log",
        "lfn": "dashboard.e2e.log.tgz",
        "dataset": "dashboard.e2e.log/",
        "GUID": "0d5b3c1e-1111-2222-3333-444455556666",
    }
    state = [values.get(name) for name in JOB_ATTRIBUTES]
    state.append([[log.get(name) for name in ("row_ID",) + FILE_ATTRIBUTES[1:18]] + [None]])
    reply = requests.post(f"{url}/api/v1/job/submit", json={"jobs": json.dumps([state])}, headers=JSON, timeout=10)
    body = reply.json()
    assert body["success"] is True, body
    return body["data"][0][0]


def test_dashboard_end_to_end(browser, live):
    url, emulator = live
    jobs = emulator.engine.store["jobs"]
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        # the overview, live: submitted work appears without a reload
        page.goto(f"{url}{UI}/?refresh=1")
        total = len(jobs)
        assert page.inner_text('[data-total="jobs"]') == str(total)
        panda_id = submit_job(url)
        page.wait_for_function(f"document.querySelector('[data-total=\"jobs\"]').textContent === '{total + 1}'")
        page.wait_for_selector('#bars-jobs a[href$="status=defined"]')
        assert page.url == f"{url}{UI}/?refresh=1"  # updated in place
        assert "live" in page.inner_text("#live")
        page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)

        # +10s from the page's clock buttons activates it; a simulated pilot runs it
        page.click('#clock-controls button[value="10s"]')
        page.wait_for_selector(".flash.notice")
        assert jobs.get(panda_id)["jobStatus"] == "activated"
        result = Fleet(url, pilots=1, queue="BNL_PROD_MCORE", jobs=1, heartbeats=1, seed=5).run()
        assert result.jobs_acquired == 1 and result.errors == []
        assert jobs.get(panda_id)["jobStatus"] == "holding"
        page.click('#clock-controls button[value="1m"]')  # the adder's delay passes
        page.wait_for_selector(".flash.notice")
        assert jobs.get(panda_id)["jobStatus"] == "finished"

        # from the jobs list to the job page
        page.goto(f"{url}{UI}/jobs?status=finished&queue=BNL_PROD_MCORE")
        page.click(f'a[href="{UI}/jobs/{panda_id}"]')
        page.wait_for_selector("#job-history")
        assert page.inner_text("#job-status") == "finished"
        history = page.inner_text("#job-history")
        for status in ("defined", "activated", "sent", "starting", "running", "holding", "finished"):
            assert status in history
        metrics = page.inner_text("#job-metrics")
        assert "maxRSS" in metrics and "cpuConsumptionTime" in metrics
        assert "dashboard.e2e.log.tgz" in page.inner_text("#job-files")
        page.screenshot(path=str(ARTIFACTS / "dashboard-job.png"), full_page=True)

        # a fault rule from the form: the next API call fails
        status_url = f"{url}/api/v1/job/get_status"
        query = {"job_ids": f"[{panda_id}]"}
        assert requests.get(status_url, params=query, headers=JSON, timeout=10).status_code == 200
        page.goto(f"{url}{UI}/faults")
        page.fill('#add-rule input[name="endpoint"]', "job/get_status")
        page.select_option('#add-rule select[name="status"]', "503")
        page.fill('#add-rule input[name="id"]', "browser-rule")
        page.click('#add-rule button[type="submit"]')
        assert "added rule browser-rule" in page.inner_text(".flash.notice")
        reply = requests.get(status_url, params=query, headers=JSON, timeout=10)
        assert reply.status_code == 503 and "Service Unavailable" in reply.text
        page.reload()
        row = page.inner_text('tr[data-rule="browser-rule"]')
        assert "active" in row and "job/get_status" in row
        assert emulator.faults.get("browser-rule").fired == 1
        page.screenshot(path=str(ARTIFACTS / "dashboard-faults.png"), full_page=True)
    finally:
        context.close()
    for name in ("overview", "job", "faults"):
        assert (ARTIFACTS / f"dashboard-{name}.png").stat().st_size > 10_000


def test_pages_work_without_javascript(browser, live):
    url, emulator = live
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{url}{UI}/")
        assert page.inner_text('[data-total="jobs"]') == str(len(emulator.engine.store["jobs"]))
        page.click(f'#bars-jobs a[href="{UI}/jobs?status=activated"]')
        assert page.url.endswith("/jobs?status=activated")
        page.select_option('#job-filters select[name="queue"]', "CERN-PROD_UCORE")
        page.click('#job-filters button[type="submit"]')
        assert "queue=CERN-PROD_UCORE" in page.url and "status=activated" in page.url
        expected = emulator.engine.store["jobs"].ids("dispatch", ("CERN-PROD_UCORE", "activated"))
        listed = [int(row.get_attribute("data-panda-id")) for row in page.locator("#jobs tbody tr").all()]
        assert listed == expected and expected
        page.goto(f"{url}{UI}/faults")
        page.click('#drills button[value="drill-server-outage"]')
        assert "installed 1 rule of drill-server-outage" in page.inner_text(".flash.notice")
        assert len(emulator.faults) == 1
    finally:
        context.close()
