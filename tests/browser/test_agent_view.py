"""The dashboard's task view of an agent task: diff stat, loops, check and the transcript.

A real server whose root is a git repository runs two agent tasks through
``POST /batch/agent-tasks`` with the stand-in agent CLI; headless Chromium
(Debian's, through Playwright) then opens one task.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fakes.agent_server import start_agent_server
from server.live import LiveServer
from server.test_batch_api import wait_batch

from .test_dashboard import page as page  # the headless Chromium page fixture

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow


@pytest.fixture
def agent_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server on a repository, with the stand-in agent CLI as profile ``standin``."""
    server = start_agent_server(tmp_path)
    yield server
    server.stop()


def test_an_agent_task_shows_its_diff_stat_loops_and_transcript(
    agent_server: LiveServer, page: Page
) -> None:
    body = {
        "tasks": [{"id": "task1", "description": "write hello.py print('hello')"}],
        "parallel": 1,
        "check_command": "test -f hello.py",
        "max_loops": 3,
        "profile": "standin",
    }
    created = agent_server.client.post("/batch/agent-tasks", json=body).json()
    job_id = created["job_id"]
    assert wait_batch(agent_server, job_id)["status"] == "completed"

    page.goto(f"{agent_server.url}/#/jobs/{job_id}/tasks/task1")

    facts = page.locator("#agent-facts")
    facts.locator('dd[data-fact="branch"]').filter(has_text=f"taskfleet/{job_id}/task1").wait_for()
    assert facts.locator('dd[data-fact="diff"]').inner_text() == "1 file changed, +1 -0"
    assert facts.locator('dd[data-fact="loops"]').inner_text() == "1"
    assert facts.locator('dd[data-fact="check"]').inner_text() == "exit code 0"
    assert facts.locator('dd[data-fact="merged"]').inner_text() == "no"
    transcript = page.locator("#agent-transcript")
    transcript.filter(has_text="[committed]").wait_for()
    assert "[agent_command]" in transcript.inner_text()
    assert "[check]" in transcript.inner_text()
    assert page.locator("#task-agent").is_visible()


def test_a_shell_task_shows_no_agent_section(live_plain: LiveServer, page: Page) -> None:
    created = live_plain.client.post("/jobs", json={"tasks": [{"id": "a", "command": "true"}]})
    job_id = created.json()["job_id"]
    live_plain.client.get(f"/jobs/{job_id}")
    page.goto(f"{live_plain.url}/#/jobs/{job_id}/tasks/a")
    page.locator("#task-title").filter(has_text="a").wait_for()
    assert page.locator("#task-agent").is_hidden()


@pytest.fixture
def live_plain(tmp_path: Path) -> Iterator[LiveServer]:
    root = tmp_path / "plain"
    root.mkdir()
    server = LiveServer(f"sqlite:///{tmp_path / 'plain.db'}", root, worker_poll_s=0.1).start()
    yield server
    server.stop()
