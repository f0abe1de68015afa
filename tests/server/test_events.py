"""``GET /jobs/{id}/events``: every task change, throttled progress, end, and resume."""

from __future__ import annotations

import time

from .conftest import LiveServer, ServerFactory
from .helpers import parse_sse, read_events


def test_stream_of_a_job_from_start_to_end(server: LiveServer) -> None:
    tasks = [{"id": f"t{i}", "duration": 0.05} for i in range(6)]
    tasks.append({"id": "bad", "command": "exit 4", "retries": 1})
    server.submit(tasks, id="j", concurrency=3, retry_delay=0)
    events = read_events(server.client, "/jobs/j/events")
    assert events[-1]["event"] == "end"
    assert events[-1]["data"] == {"status": "failed"}
    task_events = [e for e in events if e["event"] == "task"]
    ids = [int(e["id"]) for e in task_events]
    assert ids == sorted(set(ids))
    final = {e["data"]["id"]: e["data"] for e in task_events}
    assert {k: v["status"] for k, v in final.items()} == {
        **{f"t{i}": "succeeded" for i in range(6)},
        "bad": "failed",
    }
    assert final["bad"]["attempt"] == 2
    assert final["bad"]["error"] == "exit code 4"
    bad = [e["data"]["status"] for e in task_events if e["data"]["id"] == "bad"]
    assert "pending" in bad  # the retry wait shows as its own change
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[-1]["data"]["processed"] == 7
    assert progress[-1]["data"]["percentage"] == 100.0


def test_progress_is_at_most_every_half_second(server: LiveServer) -> None:
    tasks = [{"id": f"t{i}", "duration": 0.02} for i in range(60)]
    server.submit(tasks, id="j", concurrency=2)
    started = time.monotonic()
    events = read_events(server.client, "/jobs/j/events")
    took = time.monotonic() - started
    progress = [e for e in events if e["event"] == "progress"]
    task_events = [e for e in events if e["event"] == "task"]
    # Counted rather than timed between arrivals, which a busy machine may bunch up.
    assert 2 <= len(progress) <= took / 0.5 + 1
    assert len(task_events) >= 60


def test_last_event_id_resumes_exactly(server: LiveServer) -> None:
    server.submit([{"id": f"t{i}", "duration": 0.01} for i in range(5)], id="j")
    server.wait_ended("j")
    everything = read_events(server.client, "/jobs/j/events")
    tasks = [e for e in everything if e["event"] == "task"]
    middle = tasks[len(tasks) // 2]
    resumed = read_events(server.client, "/jobs/j/events", headers={"Last-Event-ID": middle["id"]})
    rest = [e for e in resumed if e["event"] == "task"]
    assert [e["id"] for e in rest] == [e["id"] for e in tasks if int(e["id"]) > int(middle["id"])]
    by_query = read_events(server.client, f"/jobs/j/events?last_event_id={tasks[-1]['id']}")
    assert [e["event"] for e in by_query] == ["progress", "end"]


def test_stream_follows_a_job_that_has_not_started(start_server: ServerFactory) -> None:
    server = start_server(run_worker=False)
    server.submit([{"id": "a", "duration": 0}], id="j")
    with server.client.stream("GET", "/jobs/j/events") as response:
        lines = response.iter_lines()
        first = next(parse_sse(lines))
        assert first["event"] == "progress"
        assert first["data"]["processed"] == 0
        server.client.post("/jobs/j/cancel")
        rest = list(parse_sse(lines))
    assert rest[-1]["event"] == "end"
    assert rest[-1]["data"]["status"] == "cancelled"
    assert any(e["event"] == "task" and e["data"]["status"] == "cancelled" for e in rest)


def test_every_task_shows_running_before_it_ends(server: LiveServer) -> None:
    # Fast tasks: their starts and ends land in the same group commits.
    tasks = [{"id": f"t{i}", "duration": 0} for i in range(20)]
    tasks.append({"id": "flaky", "duration": 0, "fail_times": 1, "retries": 1})
    server.submit(tasks, id="j", concurrency=4, retry_delay=0)

    events = read_events(server.client, "/jobs/j/events")

    task_events = [e for e in events if e["event"] == "task"]
    ids = [int(e["id"]) for e in task_events]
    assert ids == sorted(set(ids))
    seen: dict[str, list[tuple[str, int]]] = {}
    for event in task_events:
        data = event["data"]
        seen.setdefault(data["id"], []).append((data["status"], data["attempt"]))
    assert set(seen) == {task["id"] for task in tasks}
    for task_id, changes in seen.items():
        if task_id != "flaky":
            assert changes == [("running", 1), ("succeeded", 1)], (task_id, changes)
    assert seen["flaky"] == [("running", 1), ("pending", 1), ("running", 2), ("succeeded", 2)]
