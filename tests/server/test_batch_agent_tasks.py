"""``POST /batch/agent-tasks``: the older body as is, one job of agent tasks in ``--root``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.agent_server import git, start_agent_server

from .conftest import LiveServer
from .test_batch_api import BATCH_KEYS, wait_batch


@pytest.fixture
def agent_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server whose root is a repository and whose settings have a stand-in agent profile."""
    server = start_agent_server(tmp_path)
    yield server
    server.stop()


def test_agent_tasks_run_in_the_root_repository(agent_server: LiveServer) -> None:
    body = {
        "tasks": [
            {"id": "task1", "description": "write hello.py print('hello')"},
            {"id": "task2", "description": "write docs/hello.md hello"},
        ],
        "chunk_size": 10,
        "parallel": 2,
        "check_command": 'test -n "$(ls)"',
        "max_loops": 3,
        "coder_model": "qwen2.5-coder:7b",
        "profile": "standin",
    }
    response = agent_server.client.post("/batch/agent-tasks", json=body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == BATCH_KEYS
    assert created["job_id"].startswith("batch_agent_tasks-")
    job = wait_batch(agent_server, created["job_id"])
    assert job["status"] == "completed", job
    assert job["result"]["summary"] == {"total": 2, "successful": 2, "failed": 0, "skipped": 0}
    results = {r["id"]: r for r in job["result"]["results"]}
    assert results["task1"]["kind"] == "agent"
    branch = results["task1"]["result"]["branch"]
    assert branch == f"taskfleet/{created['job_id']}/task1"
    root = agent_server.root
    assert git(root, "show", f"{branch}:hello.py") == "print('hello')\n"
    subject = git(root, "log", "-1", "--format=%s", branch).strip()
    assert subject == "task1: write hello.py print('hello')"
    assert git(root, "status", "--porcelain") == ""


def test_a_root_that_is_no_repository_is_refused(server: LiveServer) -> None:
    body = {"tasks": [{"id": "t", "description": "write a b"}], "parallel": 1}
    response = server.client.post("/batch/agent-tasks", json=body)
    assert response.status_code in (400, 422), response.text
    assert "not a git repository" in response.text
    assert server.client.get("/batch/jobs").json()["total"] == 0
