"""``taskfleet serve`` and ``taskfleet worker`` as processes, on the server's store."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from .conftest import ServerFactory
from .helpers import clean_env


def taskfleet(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "taskfleet", *args],
        cwd=cwd,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_refuses_another_host_without_a_token(tmp_path: Path) -> None:
    proc = taskfleet("serve", "--host", "0.0.0.0", "--port", "0", cwd=tmp_path)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "TASKFLEET_API_TOKEN" in stderr
    assert "0.0.0.0" in stderr


def test_a_separate_worker_runs_jobs_submitted_through_the_api(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(run_worker=False)
    server.submit([{"id": "pid", "command": "echo $PPID"}, {"duration": 0.01}], id="j")
    assert server.job("j")["status"] == "queued"
    worker = taskfleet("--db", server.db_url, "worker", "--poll", "0.1", cwd=tmp_path)
    try:
        job = server.wait_ended("j", timeout=60)
        assert job["status"] == "completed"
        assert job["runner"]["pid"] == worker.pid
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
    assert worker.returncode == 0
