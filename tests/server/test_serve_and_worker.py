"""``taskfleet serve`` and ``taskfleet worker`` as processes, on the server's store."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from .conftest import ServerFactory
from .helpers import clean_env, wait_for


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_with_a_token_runs_jobs_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = taskfleet("serve", "--port", str(port), cwd=tmp_path, env={"TASKFLEET_API_TOKEN": "tok"})
    try:
        with httpx.Client(base_url=url, timeout=10) as client:

            def healthy() -> bool:
                try:
                    return client.get("/healthz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_for(healthy, 60, "serve to answer")
            assert client.get("/jobs").status_code == 401
            auth = {"Authorization": "Bearer tok"}
            body = {"tasks": [{"id": "a", "command": "pwd"}], "id": "j"}
            assert client.post("/jobs", json=body, headers=auth).status_code == 201

            def ended() -> bool:
                job = client.get("/jobs/j", headers=auth).json()
                return bool(job["status"] == "completed")

            wait_for(ended, 60, "the job to complete")
            record = client.get("/jobs/j/results", headers=auth).json()
            assert record["result"]["stdout"].strip() == str(tmp_path)
            # An open event stream of a running job must not keep the server from stopping.
            long = {"tasks": [{"duration": 60}], "id": "long"}
            assert client.post("/jobs", json=long, headers=auth).status_code == 201
            with client.stream("GET", "/jobs/long/events?token=tok") as stream:
                next(stream.iter_lines())
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    # The running job was handed back for the next worker, not lost.
    check = taskfleet(
        "--db",
        f"sqlite:///{tmp_path}/.taskfleet/taskfleet.db",
        "status",
        "long",
        "--json",
        cwd=tmp_path,
    )
    stdout, _ = check.communicate(timeout=60)
    assert json.loads(stdout)["status"] == "queued"


def test_a_second_signal_makes_the_worker_kill_its_tasks(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(run_worker=False)
    server.submit([{"id": "long", "duration": 120}], id="j")
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "-m", "taskfleet", "--db", server.db_url, "worker", "--poll", "0.1"],
            cwd=tmp_path,
            env=clean_env(),
            stderr=stderr,
        )
    try:
        wait_for(lambda: server.job("j")["running"] == 1, 60, "the task to start")
        worker.send_signal(signal.SIGTERM)
        # Signals do not queue: send the second once the first was handled.
        wait_for(lambda: "stopping" in log.read_text(), 30, "the first signal to be handled")
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)  # long before the task's 120 s
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
    job = server.job("j")
    assert (job["status"], job["queued"]) == ("queued", 1)
    detail = server.client.get("/jobs/j/tasks/long").json()
    assert detail["attempt_history"][0]["outcome"] == "interrupted"
