"""What a task may hold, through the Python API and ``POST /jobs``: unknown fields, meta,
no tasks, and the API key of an llm endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import taskfleet
from server.live import LiveServer
from taskfleet.errors import TaskfileError

LLM = {"model": "gpt-4o-mini", "prompt": "hi"}


@pytest.fixture
def no_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a first run: no key, no endpoint of one's own."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    root = tmp_path / "root"
    root.mkdir()
    live = LiveServer(f"sqlite:///{tmp_path / 'store.db'}", root).start()
    try:
        yield live
    finally:
        live.stop()


def _job_count(db: Path) -> int:
    async def count() -> int:
        async with taskfleet.Fleet(db=db) as fleet:
            return len(await fleet.store.list_jobs())

    import asyncio

    return asyncio.run(count())


# -- the Python API ------------------------------------------------------------------


def test_python_refuses_unknown_fields_and_stores_nothing(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with pytest.raises(TaskfileError) as caught:
        taskfleet.run([{"duration": 0, "retires": 5}], db=db)
    assert [str(issue) for issue in caught.value.issues] == [
        "<tasks>:1: field 'retires': unknown field (did you mean 'retries'?)"
    ]
    assert _job_count(db) == 0


def test_python_keeps_meta_through_the_store(tmp_path: Path) -> None:
    meta = {"customer": "acme", "n": 3}
    tasks = [{"duration": 0, "meta": meta}, {"duration": 0}]
    for db in (None, tmp_path / "runs.db"):  # the memory store and SQLite
        summary = taskfleet.run(tasks, db=db)
        assert summary.results[0]["meta"] == meta
        assert "meta" not in summary.results[1]


def test_python_refuses_no_tasks_unless_allowed(tmp_path: Path) -> None:
    with pytest.raises(TaskfileError, match="<tasks>: no tasks"):
        taskfleet.run([], db=tmp_path / "runs.db")
    assert _job_count(tmp_path / "runs.db") == 0
    assert taskfleet.run([], allow_empty=True)["total"] == 0
    assert taskfleet.map(str, []) == []  # mapping over nothing is no mistake


@pytest.mark.usefixtures("no_openai")
def test_python_refuses_an_llm_task_without_a_key() -> None:
    with pytest.raises(TaskfileError) as caught:
        taskfleet.run([LLM])
    [issue] = caught.value.issues
    assert issue.field == "endpoint"
    assert "https://api.openai.com/v1" in issue.message and "OPENAI_API_KEY" in issue.message


# -- POST /jobs ------------------------------------------------------------------------


def _post(server: LiveServer, body: dict[str, Any]) -> Any:
    return server.client.post("/jobs", json=body)


def test_rest_refuses_unknown_fields(server: LiveServer) -> None:
    response = _post(server, {"tasks": [{"command": "true", "dependson": ["x"]}]})
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["field"] == "dependson"
    assert detail["msg"] == "unknown field (did you mean 'depends_on'?)"
    assert server.client.get("/jobs").json()["total"] == 0


def test_rest_keeps_meta_and_shows_it_in_results(server: LiveServer) -> None:
    meta = {"customer": "acme"}
    job = server.submit([{"id": "a", "duration": 0, "meta": meta}])
    server.wait_ended(job["job_id"])
    text = server.client.get(f"/jobs/{job['job_id']}/results").text
    [record] = [json.loads(line) for line in text.splitlines()]
    assert record["meta"] == meta
    detail = server.client.get(f"/jobs/{job['job_id']}/tasks/a").json()
    assert detail["meta"] == meta


def test_rest_refuses_no_tasks_unless_allowed(server: LiveServer) -> None:
    response = _post(server, {"tasks": []})
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert (detail["field"], detail["msg"]) == ("tasks", "<body>: no tasks")
    assert server.client.get("/jobs").json()["total"] == 0
    allowed = _post(server, {"tasks": [], "allow_empty": True})
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["total"] == 0


@pytest.mark.usefixtures("no_openai")
def test_rest_refuses_an_llm_task_without_a_key(server: LiveServer) -> None:
    response = _post(server, {"tasks": [LLM]})
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["field"] == "endpoint"
    assert "https://api.openai.com/v1" in detail["msg"] and "OPENAI_API_KEY" in detail["msg"]
    assert server.client.get("/jobs").json()["total"] == 0
