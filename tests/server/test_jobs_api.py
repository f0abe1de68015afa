"""The REST routes of SPEC section 7, over real HTTP."""

from __future__ import annotations

import csv
import io
import json

from .conftest import LiveServer
from .helpers import wait_for

PROGRESS_KEYS = {
    "total",
    "processed",
    "successful",
    "failed",
    "percentage",
    "elapsed_seconds",
    "items_per_second",
    "estimated_remaining_seconds",
    "current_item",
}


def test_healthz_and_openapi(server: LiveServer) -> None:
    assert server.client.get("/healthz").json()["status"] == "ok"
    spec = server.client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/tasks",
        "/jobs/{job_id}/results",
        "/jobs/{job_id}/cancel",
        "/jobs/{job_id}/retry",
        "/jobs/{job_id}/events",
        "/stats",
        "/batch/validation",
        "/batch/tests",
        "/batch/mcp-operations",
        "/batch/jobs",
        "/batch/jobs/{job_id}",
        "/batch/stats",
    } <= paths
    assert "JobCreate" in spec["components"]["schemas"]


def test_submit_runs_and_reports_progress(server: LiveServer) -> None:
    tasks = [{"id": "a", "command": "echo hello"}, {"id": "b", "duration": 0.05}]
    created = server.submit(tasks, name="first", concurrency=2)
    assert created["status"] in ("queued", "running", "completed")
    assert created["name"] == "first"
    assert created["total"] == 2
    assert set(created["progress"]) >= PROGRESS_KEYS
    job = server.wait_ended(created["job_id"])
    assert job["status"] == "completed"
    assert job["progress"]["processed"] == 2
    assert job["progress"]["successful"] == 2
    assert job["progress"]["percentage"] == 100.0


def test_job_options_mirror_the_cli(server: LiveServer) -> None:
    created = server.submit(
        [{"id": "x", "command": "exit 1"}],
        id="my-job",
        retries=1,
        retry_delay=0,
        timeout=5,
        fail_fast=True,
        validate_rounds=0,
    )
    assert created["job_id"] == "my-job"
    job = server.wait_ended("my-job")
    assert job["status"] == "failed"
    detail = server.client.get("/jobs/my-job/tasks/x").json()
    assert detail["attempts"] == 2
    assert [a["outcome"] for a in detail["attempt_history"]] == ["failed", "failed"]
    again = server.client.post("/jobs", json={"id": "my-job", "tasks": [{"command": "true"}]})
    assert again.status_code == 409


def test_bad_tasks_are_rejected_whole(server: LiveServer) -> None:
    body = {
        "tasks": [
            {"id": "ok", "command": "true"},
            {"id": "bad", "kind": "nope"},
            {"id": "ok", "command": "true"},
            {"command": "true", "depends_on": ["ghost"]},
        ]
    }
    response = server.client.post("/jobs", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    by_index = {(d["index"], d["field"]) for d in detail}
    assert (1, "kind") in by_index
    assert (2, "id") in by_index
    assert (3, "depends_on") in by_index
    assert all(d["msg"] for d in detail)
    assert detail[0]["loc"] == ["body", "tasks", 1, "kind"]
    assert server.client.get("/jobs").json()["total"] == 0


def test_bad_bodies_name_the_field(server: LiveServer) -> None:
    cases = [
        ({"tasks": []}, "tasks"),
        ({"tasks": [{"command": "true"}], "concurrency": 0}, "concurrency"),
        ({"tasks": [{"command": "true"}], "retries": "many"}, "retries"),
        ({"tasks": [{"command": "true"}], "colour": "red"}, "colour"),
        ({}, "tasks"),
    ]
    for body, field in cases:
        response = server.client.post("/jobs", json=body)
        assert response.status_code == 422, body
        assert field in {d["field"] for d in response.json()["detail"]}, response.text
    not_json = server.client.post(
        "/jobs", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert server.client.get("/jobs").json()["total"] == 0


def test_unknown_jobs_and_tasks_are_404(server: LiveServer) -> None:
    for method, path in [
        ("GET", "/jobs/nope"),
        ("GET", "/jobs/nope/tasks"),
        ("GET", "/jobs/nope/tasks/t"),
        ("GET", "/jobs/nope/results"),
        ("GET", "/jobs/nope/events"),
        ("POST", "/jobs/nope/cancel"),
        ("POST", "/jobs/nope/retry"),
        ("GET", "/batch/jobs/nope"),
        ("DELETE", "/batch/jobs/nope"),
    ]:
        response = server.client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert "nope" in response.json()["detail"]
    server.submit([{"id": "a", "command": "true"}], id="j")
    assert server.client.get("/jobs/j/tasks/zzz").status_code == 404


def test_list_jobs_filters_and_pages(server: LiveServer) -> None:
    for index in range(3):
        server.submit([{"command": "true"}], id=f"j{index}")
    for index in range(3):
        server.wait_ended(f"j{index}")
    server.submit([{"command": "exit 1", "retries": 0}], id="bad")
    server.wait_ended("bad")
    listed = server.client.get("/jobs", params={"limit": 2}).json()
    assert listed["total"] == 4
    assert [job["job_id"] for job in listed["jobs"]] == ["bad", "j2"]
    page2 = server.client.get("/jobs", params={"limit": 2, "offset": 2}).json()
    assert [job["job_id"] for job in page2["jobs"]] == ["j1", "j0"]
    failed = server.client.get("/jobs", params={"status": "failed"}).json()
    assert [job["job_id"] for job in failed["jobs"]] == ["bad"]
    assert server.client.get("/jobs", params={"status": "weird"}).status_code == 422
    assert server.client.get("/jobs", params={"limit": 0}).status_code == 422
    # The older listing takes the same filter and page.
    batch = server.client.get("/batch/jobs", params={"limit": 1, "offset": 1}).json()
    assert ([job["job_id"] for job in batch["jobs"]], batch["total"]) == (["j2"], 4)
    batch_failed = server.client.get("/batch/jobs", params={"status": "failed"}).json()
    assert [job["job_id"] for job in batch_failed["jobs"]] == ["bad"]
    assert server.client.get("/batch/jobs", params={"offset": -1}).status_code == 422


def test_tasks_filter_search_and_page(server: LiveServer) -> None:
    tasks = [{"id": f"ok-{i}", "command": "true"} for i in range(5)]
    tasks += [{"id": "bad-1", "command": "echo oops >&2; exit 2", "retries": 0}]
    server.submit(tasks, id="j")
    server.wait_ended("j")
    page = server.client.get("/jobs/j/tasks", params={"limit": 4}).json()
    assert [t["id"] for t in page["tasks"]] == ["ok-0", "ok-1", "ok-2", "ok-3"]
    rest = server.client.get("/jobs/j/tasks", params={"after": page["next_after"]}).json()
    assert [t["id"] for t in rest["tasks"]] == ["ok-4", "bad-1"]
    assert rest["next_after"] is None
    failed = server.client.get("/jobs/j/tasks", params={"status": "failed"}).json()
    assert [(t["id"], t["error"]) for t in failed["tasks"]] == [("bad-1", "exit code 2: oops")]
    found = server.client.get("/jobs/j/tasks", params={"search": "k-3"}).json()
    assert [t["id"] for t in found["tasks"]] == ["ok-3"]
    detail = server.client.get("/jobs/j/tasks/bad-1").json()
    assert detail["result"]["stderr"] == "oops\n"
    assert detail["spec"]["command"].startswith("echo oops")
    assert detail["attempt_history"][0]["outcome"] == "failed"


def test_results_in_every_format(server: LiveServer) -> None:
    server.submit([{"id": "a", "command": "echo 1"}, {"id": "b", "duration": 0}], id="j")
    server.wait_ended("j")
    jsonl = server.client.get("/jobs/j/results")
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [r["id"] for r in records] == ["a", "b"]
    assert records[0]["result"]["stdout"] == "1\n"
    as_json = server.client.get("/jobs/j/results", params={"format": "json"}).json()
    assert [r["id"] for r in as_json] == ["a", "b"]
    text = server.client.get("/jobs/j/results", params={"format": "csv"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["id"] for row in rows] == ["a", "b"]
    batch = server.client.get("/jobs/j/results", params={"format": "openai-batch"}).text
    lines = [json.loads(line) for line in batch.splitlines()]
    answered = [(r["custom_id"], r["response"]["status_code"]) for r in lines]
    assert answered == [("a", 200), ("b", 200)]
    only = server.client.get("/jobs/j/results", params={"status": "failed"}).text
    assert only == ""
    assert server.client.get("/jobs/j/results", params={"format": "xml"}).status_code == 422


def test_cancel_a_running_job(server: LiveServer) -> None:
    tasks = [{"id": f"t{i}", "duration": 30} for i in range(4)]
    server.submit(tasks, id="long", concurrency=2)
    wait_for(lambda: server.job("long")["running"] == 2, 20, "two running tasks")
    cancelled = server.client.post("/jobs/long/cancel").json()
    assert cancelled["status"] == "cancelled"
    job = wait_for(
        lambda: (j := server.job("long"))["running"] == 0 and j, 20, "running tasks to stop"
    )
    assert job["cancelled"] == 4


def test_retry_queues_the_failed_again(server: LiveServer) -> None:
    marker = server.root / "second-time"
    command = f"test -e {marker} || {{ touch {marker}; exit 1; }}"
    server.submit(
        [{"id": "flaky", "command": command, "retries": 0}, {"id": "ok", "command": "true"}], id="j"
    )
    assert server.wait_ended("j")["status"] == "failed"
    retried = server.client.post("/jobs/j/retry")
    assert retried.status_code == 200
    assert retried.json()["status"] in ("queued", "running", "completed")
    job = wait_for(
        lambda: (j := server.job("j"))["status"] == "completed" and j, 30, "the retry to finish"
    )
    assert job["succeeded"] == 2
    detail = server.client.get("/jobs/j/tasks/flaky").json()
    assert len(detail["attempt_history"]) == 2


def test_stats(server: LiveServer) -> None:
    server.submit([{"command": "true"}, {"command": "exit 1", "retries": 0}], id="j")
    server.wait_ended("j")
    stats = server.client.get("/stats").json()
    assert stats["jobs"]["total"] == 1
    assert stats["jobs"]["failed"] == 1
    assert stats["tasks"] == {
        "total": 2,
        "pending": 0,
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 0,
        "skipped": 0,
    }
    assert "items_per_second" in stats
