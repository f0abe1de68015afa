"""``POST /batch/agent-tasks``: the older body as is, one job of agent tasks in ``--root``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskfleet.config.profiles import parse_profile
from taskfleet.config.settings import Settings

from .conftest import LiveServer
from .test_batch_api import BATCH_KEYS, wait_batch

STANDIN = Path(__file__).parent.parent / "agents" / "standin_agent.py"


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def agent_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server whose root is a repository and whose settings have a stand-in agent profile."""
    root = tmp_path / "root"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "README").write_text("hi\n")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "init")
    command = f"{sys.executable} {STANDIN} {{prompt}} {{check_output}}"
    profile = parse_profile("standin", {"kind": "agent", "command": command}, "test")
    db = f"sqlite:///{tmp_path / 'store.db'}"
    settings = Settings(db=db, concurrency=2, profiles={"standin": profile})
    server = LiveServer(settings, root).start()  # type: ignore[arg-type]
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
    assert _git(root, "show", f"{branch}:hello.py") == "print('hello')\n"
    subject = _git(root, "log", "-1", "--format=%s", branch).strip()
    assert subject == "task1: write hello.py print('hello')"
    assert _git(root, "status", "--porcelain") == ""


def test_a_root_that_is_no_repository_is_refused(server: LiveServer) -> None:
    body = {"tasks": [{"id": "t", "description": "write a b"}], "parallel": 1}
    response = server.client.post("/batch/agent-tasks", json=body)
    assert response.status_code in (400, 422), response.text
    assert "not a git repository" in response.text
    assert server.client.get("/batch/jobs").json()["total"] == 0
