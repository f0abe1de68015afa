"""The dashboard in headless Chromium: a job's bar reaches 100%, a failed task opens, retry.

Needs Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs
it) and Playwright, which drives it through ``executable_path``. The
screenshot for the README is written to ``docs/dashboard.png`` when that file
is missing or ``TASKFLEET_UPDATE_SCREENSHOT=1``; otherwise under tmp_path.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from server.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"
TIMEOUT_MS = 30_000


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    root = tmp_path / "root"
    root.mkdir()
    server = LiveServer(f"sqlite:///{tmp_path / 'store.db'}", root, worker_poll_s=0.1).start()
    yield server
    server.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    """A page of headless Chromium (Debian's, driven by Playwright)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed here (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            opened = browser.new_page(viewport={"width": 1100, "height": 1000})
            opened.set_default_timeout(TIMEOUT_MS)
            yield opened
        finally:
            browser.close()


def wait_until_held(page: Page, held: list[Route], count: int) -> None:
    """Poll until ``count`` requests are held by a ``page.route`` handler."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while len(held) < count and time.monotonic() < deadline:
        page.wait_for_timeout(20)  # lets Playwright dispatch the route handler
    assert len(held) == count


def screenshot_path(tmp_path: Path) -> Path:
    target = DOCS / "dashboard.png"
    if not target.exists() or os.environ.get("TASKFLEET_UPDATE_SCREENSHOT") == "1":
        return target
    return tmp_path / "dashboard.png"


def test_dashboard_follows_a_job_and_retries_the_failed(
    live: LiveServer, page: Page, tmp_path: Path
) -> None:
    # One piece: a user's story on one page, each step starting where the last left it.
    from playwright.sync_api import expect

    marker = live.root / "flaky-ran-once"
    tasks: list[dict[str, object]] = [
        {"id": f"render-{i:02d}", "duration": 0.08 + (i % 5) * 0.04} for i in range(48)
    ]
    tasks.insert(
        20,
        {
            "id": "flaky-upload",
            "command": f"test -e {marker} || "
            f"{{ touch {marker}; echo 'upload refused' >&2; exit 3; }}",
            "retries": 0,
            "description": "fails the first time only",
        },
    )
    job_id = live.submit(tasks, id="nightly-render", name="nightly render", concurrency=4)["job_id"]
    page.goto(f"{live.url}/")
    expect(page.locator(f'.job[data-job-id="{job_id}"]')).to_be_visible()
    page.click(f'.job[data-job-id="{job_id}"] a')
    bar = page.locator("#job-bar")
    expect(bar).to_have_attribute("data-percentage", "100")
    expect(page.locator("#job-status")).to_have_attribute("data-status", "failed")

    page.click('#tasks tr[data-task-id="flaky-upload"]')
    expect(page.locator("#task-view")).to_be_visible()
    expect(page.locator("#task-error")).to_contain_text("exit code 3")
    expect(page.locator("#task-output")).to_contain_text("upload refused")
    expect(page.locator("#attempts tbody tr")).to_have_count(1)

    page.click("#task-back")
    expect(page.locator("#retry-btn")).to_be_enabled()
    page.click("#retry-btn")
    expect(page.locator("#job-status")).to_have_attribute("data-status", "completed")
    expect(bar).to_have_attribute("data-percentage", "100")
    row = page.locator('#tasks tr[data-task-id="flaky-upload"]')
    expect(row).to_have_attribute("data-status", "succeeded")

    page.select_option("#status-filter", "succeeded")
    page.fill("#task-search", "render-1")
    expect(page.locator("#tasks tbody tr")).to_have_count(10)
    page.select_option("#status-filter", "")
    page.fill("#task-search", "")
    expect(page.locator("#tasks tbody tr")).to_have_count(49)
    page.screenshot(path=str(screenshot_path(tmp_path)), full_page=False)

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{live.url}/#/jobs/{job_id}")
    expect(page.locator("#job-bar")).to_have_attribute("data-percentage", "100")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


def test_overlapping_task_loads_show_each_task_once(live: LiveServer, page: Page) -> None:
    """Opening a job and changing the filter before the first list arrives: the newest wins."""
    from playwright.sync_api import expect

    tasks = [{"id": f"t{i}", "command": "exit 1" if i % 3 == 0 else "true"} for i in range(6)]
    job_id = live.submit(tasks, id="overlap")["job_id"]
    live.wait_ended(job_id)
    held: list[Route] = []
    page.route(f"**/jobs/{job_id}/tasks?*", lambda route: held.append(route))
    with page.expect_request(f"**/jobs/{job_id}/tasks?*"):
        page.goto(f"{live.url}/#/jobs/{job_id}")
    with page.expect_request(f"**/jobs/{job_id}/tasks?*status=failed*"):
        page.select_option("#status-filter", "failed")
    wait_until_held(page, held, 2)
    # The older list (every status) arrives first, the filtered one after it.
    for route in held:
        with page.expect_response(route.request.url):
            route.continue_()
    rows = page.locator("#tasks tbody tr")
    expect(rows).to_have_count(2)
    ids = rows.evaluate_all("rows => rows.map(r => r.dataset.taskId)")
    assert sorted(ids) == ["t0", "t3"]


def test_an_answer_for_a_job_left_behind_does_not_paint_over_the_next(
    live: LiveServer, page: Page
) -> None:
    """Open job alpha, move to beta before alpha's answer comes: beta stays on screen."""
    from playwright.sync_api import expect

    live.wait_ended(live.submit([{"id": "a1", "command": "true"}], id="alpha")["job_id"])
    beta = [{"id": f"b{i}", "command": "true"} for i in range(1, 4)]
    live.wait_ended(live.submit(beta, id="beta")["job_id"])
    held: list[Route] = []
    page.route("**/jobs/alpha", lambda route: held.append(route))
    page.goto(f"{live.url}/#/jobs/alpha")
    wait_until_held(page, held, 1)
    page.evaluate("location.hash = '#/jobs/beta'")
    expect(page.locator("#job-title")).to_have_text("beta")
    expect(page.locator("#tasks tbody tr")).to_have_count(3)
    # Every title painted from now on is kept.
    page.evaluate(
        """() => {
          const title = document.getElementById("job-title");
          window.titles = [];
          new MutationObserver(() => window.titles.push(title.textContent))
            .observe(title, { childList: true, characterData: true, subtree: true });
        }"""
    )

    with page.expect_response("**/jobs/alpha") as answer:
        held[0].continue_()
    answer.value.finished()  # the whole body is in the page
    # Two frames: whatever alpha's answer would paint has been painted by then.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert "alpha" not in page.evaluate("window.titles")
    expect(page.locator("#job-title")).to_have_text("beta")
    ids = page.locator("#tasks tbody tr").evaluate_all("rows => rows.map(r => r.dataset.taskId)")
    assert ids == ["b1", "b2", "b3"]
