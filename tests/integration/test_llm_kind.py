"""The llm kind in this process against the fake OpenAI server (Python API, memory store)."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import taskfleet
from fakes.openai_server import FakeOpenAI


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(latency_s=0.005) as fake:
        yield fake


def _endpoints(server: FakeOpenAI, **table: Any) -> dict[str, Any]:
    return {"default": {"base_url": server.base_url, **table}}


def _by_id(summary: taskfleet.Summary) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for record in summary.results}


def test_answers_usage_and_cost(server: FakeOpenAI) -> None:
    tasks = [{"id": f"t{i}", "model": "m", "prompt": f"hello {i:04d}"} for i in range(20)]
    tasks.append(
        {
            "custom_id": "emb",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "e", "input": "abcdefgh"},
        }
    )
    endpoints = _endpoints(server, input_cost_per_million=1.0, output_cost_per_million=2.0)
    summary = taskfleet.run(tasks, concurrency=8, endpoints=endpoints)
    assert summary.ok, summary.report
    records = _by_id(summary)
    assert records["t3"]["result"]["choices"][0]["message"]["content"] == "echo: hello 0003"
    assert "_response" not in records["t3"]["result"]
    assert records["emb"]["result"]["data"][0]["embedding"] == [0.1, 0.2, 0.3]
    usage = summary["usage"]
    # 20 chats of 3 prompt + 10 completion tokens; one embedding of 2 prompt tokens.
    assert usage["prompt_tokens"] == 20 * 3 + 2
    assert usage["completion_tokens"] == 20 * 10
    assert usage["total_tokens"] == 20 * 13 + 2
    assert usage["cost"] == pytest.approx((62 * 1.0 + 200 * 2.0) / 1e6)


def test_fatal_errors_fail_at_once_transient_ones_are_retried(server: FakeOpenAI) -> None:
    tasks = [
        {"id": "bad", "model": "m", "prompt": "FAIL-400"},
        {"id": "quota", "model": "m", "prompt": "FAIL-QUOTA"},
        {"id": "context", "model": "m", "prompt": "FAIL-CONTEXT"},
        {"id": "flaky", "model": "m", "prompt": "FAIL-500-ONCE"},
        {"id": "busy", "model": "m", "prompt": "FAIL-503-ONCE"},
        {"id": "fine", "model": "m", "prompt": "fine"},
    ]
    summary = taskfleet.run(
        tasks, concurrency=2, retries=3, retry_delay=0.01, endpoints=_endpoints(server)
    )
    records = _by_id(summary)
    states = {task_id: (r["status"], r["attempts"]) for task_id, r in records.items()}
    assert states == {
        "bad": ("failed", 1),
        "quota": ("failed", 1),
        "context": ("failed", 1),
        "flaky": ("succeeded", 2),
        "busy": ("succeeded", 2),
        "fine": ("succeeded", 1),
    }
    assert "HTTP 400" in records["bad"]["error"]
    assert "insufficient_quota" in records["quota"]["error"]
    assert "context_length_exceeded" in records["context"]["error"]
    seen = server.stats()["by_prompt"]
    assert (seen["FAIL-400"], seen["FAIL-QUOTA"], seen["FAIL-CONTEXT"]) == (1, 1, 1)


def test_an_auth_failure_stops_the_endpoint(server: FakeOpenAI, monkeypatch: Any) -> None:
    server.api_key = "sk-right"
    monkeypatch.setenv("FAKE_KEY", "sk-wrong")
    tasks = [{"id": f"t{i}", "model": "m", "prompt": f"p{i}"} for i in range(10)]
    endpoints = _endpoints(server, api_key_env="FAKE_KEY")
    summary = taskfleet.run(tasks, concurrency=1, retries=3, endpoints=endpoints)
    errors = {record["error"] for record in summary.results}
    assert len(errors) == 1 and "HTTP 401 invalid_api_key" in next(iter(errors))
    assert all(record["attempts"] == 1 for record in summary.results)
    assert server.stats()["requests"] == 1


def test_rate_limit_waits_do_not_spend_retries(server: FakeOpenAI) -> None:
    server.limit_requests, server.limit_window_s = 10, 0.5
    tasks = [{"id": f"t{i}", "model": "m", "prompt": f"p{i}"} for i in range(30)]
    summary = taskfleet.run(tasks, concurrency=16, retries=0, endpoints=_endpoints(server))
    assert summary.ok, summary.report
    assert server.stats()["ok"] == 30


def test_a_request_larger_than_the_token_budget_fails_at_once(server: FakeOpenAI) -> None:
    tasks = [{"id": "big", "model": "m", "prompt": "x", "max_tokens": 5000}]
    endpoints = _endpoints(server, tokens_per_minute=1000)
    summary = taskfleet.run(tasks, retries=3, endpoints=endpoints)
    record = summary.results[0]
    assert (record["status"], record["attempts"]) == ("failed", 1)
    assert "whole budget of 1000 tokens per minute" in record["error"]
    assert server.stats()["requests"] == 0


def test_cache_reuses_identical_requests(server: FakeOpenAI, tmp_path: Any) -> None:
    db = tmp_path / "runs.db"
    tasks = [{"id": f"t{i}", "model": "m", "prompt": f"p{i % 3}"} for i in range(6)]
    first = taskfleet.run(tasks, db=db, concurrency=1, cache=True, endpoints=_endpoints(server))
    assert first.ok
    assert first["usage"]["cache_hits"] == 3  # p0, p1, p2 each sent once
    second = taskfleet.run(tasks, db=db, concurrency=4, cache=True, endpoints=_endpoints(server))
    assert second["usage"]["cache_hits"] == 6
    assert second.results[4]["result"] == first.results[4]["result"]
    assert server.stats()["by_prompt"] == {"p0": 1, "p1": 1, "p2": 1}
    # Per task: only the tasks that ask for it.
    server.reset()
    mixed = [{"id": "a", "model": "m", "prompt": "p0", "cache": True}, {**tasks[0], "id": "b"}]
    taskfleet.run(mixed, db=db, concurrency=1, endpoints=_endpoints(server))
    assert server.stats()["by_prompt"] == {"p0": 1}


def test_each_run_closes_its_connections_before_its_event_loop_ends(server: FakeOpenAI) -> None:
    """taskfleet.run makes a loop per call; the llm kind lives on, its sockets must not."""
    tasks = [{"id": f"t{i}", "model": "m", "prompt": "hi"} for i in range(4)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(3):
            assert taskfleet.run(tasks, concurrency=4, endpoints=_endpoints(server)).ok
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []


def test_limits_stated_in_answers_are_kept_without_being_configured() -> None:
    """OpenAI states its limits in x-ratelimit-* headers: an endpoint without configured
    limits adopts them from the first answer instead of learning them from 429s."""
    prompts = [{"id": f"t{i}", "model": "m", "prompt": f"hi {i}"} for i in range(60)]
    with FakeOpenAI(
        limit_requests=20, limit_window_s=1.0, latency_s=0.02, state_limits=True
    ) as fake:
        summary = taskfleet.run(prompts, concurrency=16, retries=0, endpoints=_endpoints(fake))
        stats = fake.stats()
    assert summary.ok, summary.report
    # What went out before the first answer is not counted: typically 1-2 429s; learning
    # the rate from 429s instead (the fake stating nothing) meets 12-25 of them.
    assert stats["rejected_429"] <= 6, stats
    assert stats["ok"] == 60


def test_python_api_checks_endpoint_tables() -> None:
    with pytest.raises(taskfleet.errors.ConfigError, match=r"endpoints\.x\.rpm: unknown key"):
        taskfleet.run([{"model": "m", "prompt": "p"}], endpoints={"x": {"rpm": 1}})
    with pytest.raises(taskfleet.errors.TaskfileError, match="unknown endpoint"):
        taskfleet.run([{"model": "m", "prompt": "p", "endpoint": "y"}])


async def test_retry_after_fixing_the_key_sends_again(
    server: FakeOpenAI, monkeypatch: Any, tmp_path: Any
) -> None:
    server.api_key = "sk-right"
    monkeypatch.setenv("FAKE_KEY", "sk-wrong")
    tasks = [{"id": f"t{i}", "model": "m", "prompt": f"p{i}"} for i in range(3)]
    endpoints = _endpoints(server, api_key_env="FAKE_KEY")
    async with taskfleet.Fleet(tmp_path / "runs.db") as fleet:
        job_id = await fleet.submit(tasks, concurrency=1, endpoints=endpoints)
        first = await fleet.run(job_id)
        assert first["failed"] == 3
        again = await fleet.run(job_id, mode="retry")  # same process, same key: refused
        assert again["failed"] == 3 and server.stats()["requests"] == 1
        monkeypatch.setenv("FAKE_KEY", "sk-right")
        fixed = await fleet.run(job_id, mode="retry")
        assert fixed.ok, fixed.report
