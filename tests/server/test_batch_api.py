"""The older batch API's routes, with their own bodies, as aliases of the jobs API."""

from __future__ import annotations

from typing import Any

from .conftest import LiveServer
from .helpers import wait_for

BATCH_KEYS = {
    "job_id",
    "status",
    "progress",
    "result",
    "error",
    "created_at",
    "started_at",
    "completed_at",
    "metadata",
}


def wait_batch(server: LiveServer, job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = server.client.get(f"/batch/jobs/{job_id}").json()
        return job if job["status"] in ("completed", "failed", "cancelled") else None

    return wait_for(ended, 30, f"batch job {job_id}")


def test_validation_runs_the_check_on_every_target(server: LiveServer) -> None:
    (server.root / "good.txt").write_text("fine\n")
    (server.root / "bad file.txt").write_text("TODO\n")
    body = {
        "targets": [{"id": "good", "path": "good.txt"}, {"id": "bad", "path": "bad file.txt"}],
        "check_command": "! grep -q TODO",
        "parallel": 2,
    }
    response = server.client.post("/batch/validation", json=body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == BATCH_KEYS
    job = wait_batch(server, created["job_id"])
    assert job["status"] == "failed"
    assert job["progress"] == 100.0
    assert job["result"]["summary"] == {"total": 2, "successful": 1, "failed": 1, "skipped": 0}
    results = {r["id"]: r for r in job["result"]["results"]}
    assert results["good"]["status"] == "succeeded"
    assert results["bad"]["status"] == "failed"
    assert job["completed_at"] is not None
    assert job["metadata"]["progress"]["processed"] == 2


def test_tests_substitutes_the_path(server: LiveServer) -> None:
    body = {
        "modules": [{"id": "m1", "path": "pkg/a.py"}, {"id": "m2", "path": "pkg/b.py"}],
        "test_command": "echo testing {path} now",
        "parallel": True,
    }
    created = server.client.post("/batch/tests", json=body).json()
    job = wait_batch(server, created["job_id"])
    assert job["status"] == "completed"
    outputs = {r["id"]: r["result"]["stdout"] for r in job["result"]["results"]}
    assert outputs == {"m1": "testing pkg/a.py now\n", "m2": "testing pkg/b.py now\n"}


def test_mcp_operations_run_fs_tasks_in_the_root(server: LiveServer) -> None:
    (server.root / "in.txt").write_text("hello")
    body = {
        "operations": [
            {"type": "read", "path": "in.txt"},
            {"type": "write", "path": "out/new.txt", "content": "written"},
            {"type": "list", "path": "."},
            {"type": "command", "path": ".", "command": "cat in.txt"},
            {"type": "read", "path": "../escape.txt"},
        ],
        "parallel": False,
    }
    created = server.client.post("/batch/mcp-operations", json=body).json()
    job = wait_batch(server, created["job_id"])
    results = job["result"]["results"]
    assert results[0]["result"]["content"] == "hello"
    assert (server.root / "out/new.txt").read_text() == "written"
    assert "in.txt" in [e["name"] for e in results[2]["result"]["entries"]]
    assert results[3]["result"]["stdout"] == "hello"
    assert results[4]["status"] == "failed"
    assert "outside the root" in results[4]["error"]
    assert results[4]["attempts"] == 1  # an escape is fatal: no retries


def test_bad_batch_bodies_are_422(server: LiveServer) -> None:
    cases = [
        ("/batch/validation", {"targets": [], "check_command": "true"}),
        ("/batch/validation", {"targets": [{"path": "a"}]}),
        ("/batch/tests", {"modules": [{"id": "x"}], "test_command": "true"}),
        ("/batch/mcp-operations", {"operations": [{"type": "delete", "path": "a"}]}),
        ("/batch/mcp-operations", {"operations": [{"type": "write", "path": "a"}]}),
    ]
    for path, body in cases:
        response = server.client.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
    assert server.client.get("/batch/jobs").json()["total"] == 0


def test_list_cancel_and_stats(server: LiveServer) -> None:
    body = {"targets": [{"id": "slow", "path": "x"}], "check_command": "sleep 30;", "parallel": 1}
    created = server.client.post("/batch/validation", json=body).json()
    listed = server.client.get("/batch/jobs").json()
    assert [job["job_id"] for job in listed["jobs"]] == [created["job_id"]]
    assert listed["total"] == 1
    cancelled = server.client.delete(f"/batch/jobs/{created['job_id']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    wait_for(lambda: server.job(created["job_id"])["running"] == 0, 20, "the command to be killed")
    stats = server.client.get("/batch/stats").json()
    assert stats["total_jobs"] == 1
    assert stats["cancelled_jobs"] == 1
    assert stats["total_tasks"] == 1
