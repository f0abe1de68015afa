"""Result records of llm tasks: the plain formats and the OpenAI Batch API output format."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

from taskfleet.limits.request_meter import RequestMeter
from taskfleet.model import Task, TaskStatus
from taskfleet.service.results import openai_batch_record, result_record, write_results

BODY = {"id": "chatcmpl-1", "choices": [{"message": {"content": "hi"}}]}
META = {"status_code": 200, "request_id": "req_1"}


def _task(task_id: str, status: TaskStatus, result: Any = None, error: str | None = None) -> Task:
    return Task("job-1", 1, task_id, "llm", status, {}, result=result, error=error)


def test_plain_records_drop_the_transport_details() -> None:
    ok = _task("a", TaskStatus.SUCCEEDED, {**BODY, "_response": META})
    assert result_record(ok)["result"] == BODY
    failed_meta = {"status_code": 400, "request_id": "r", "body": {"error": {}}}
    failed = _task("b", TaskStatus.FAILED, {"_response": failed_meta}, "HTTP 400")
    assert result_record(failed)["result"] is None
    other = _task("c", TaskStatus.SUCCEEDED, {"x": 1})
    assert result_record(other)["result"] == {"x": 1}


def test_openai_batch_lines() -> None:
    ok = openai_batch_record(_task("a", TaskStatus.SUCCEEDED, {**BODY, "_response": META}))
    assert ok["custom_id"] == "a" and ok["id"].startswith("batch_req_")
    assert ok["response"] == {"status_code": 200, "request_id": "req_1", "body": BODY}
    assert ok["error"] is None
    meta = {"status_code": 401, "request_id": "r9", "body": {"error": {"code": "invalid_api_key"}}}
    http_error = openai_batch_record(_task("b", TaskStatus.FAILED, {"_response": meta}, "x"))
    assert http_error["response"] == meta and http_error["error"] is None
    no_answer = openai_batch_record(_task("c", TaskStatus.FAILED, None, "fake: ConnectError"))
    assert no_answer["response"] is None
    assert no_answer["error"] == {"code": "request_failed", "message": "fake: ConnectError"}
    skipped = openai_batch_record(_task("d", TaskStatus.SKIPPED))
    assert skipped["error"] == {"code": "skipped", "message": "skipped"}
    again = openai_batch_record(_task("a", TaskStatus.SUCCEEDED, {**BODY, "_response": META}))
    assert again["id"] == ok["id"]  # stable per job and task


async def test_write_openai_batch_keeps_the_order() -> None:
    async def tasks() -> AsyncIterator[Task]:
        for task_id in ["z", "a", "m"]:
            yield _task(task_id, TaskStatus.SUCCEEDED, {**BODY, "_response": META})

    out = io.StringIO()
    assert await write_results(tasks(), "openai-batch", out) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["custom_id"] for line in lines] == ["z", "a", "m"]


def test_request_meter_rates_and_waits() -> None:
    activity = RequestMeter(window_s=5.0)
    assert activity.describe(0.0) is None
    for i in range(10):
        activity.count_request(100.0 + i * 0.5, 100.0)
    assert activity.rates(105.0) == (2.0, 200.0)
    activity.begin_wait("tpm")
    assert activity.describe(105.0) == "2.0 req/s, 200 tok/s, waiting: tpm"
    activity.end_wait("tpm")
    activity.cooldown_until = 106.5
    assert activity.describe(105.0) == "2.0 req/s, 200 tok/s, cooldown 1.5s"
    assert activity.rates(200.0) == (0.0, 0.0)


def test_progress_line_and_summary_show_llm_activity_and_usage() -> None:
    from taskfleet.cli.progress_view import plain_line, usage_text
    from taskfleet.engine.progress import ProgressSnapshot
    from taskfleet.model import StatusCounts

    snap = ProgressSnapshot("job-1", StatusCounts(succeeded=3, running=2), 1.0, 3.0, 1.0, None)
    line = plain_line(snap, "19.4 req/s, 2310 tok/s, waiting: rpm")
    assert line.endswith("| 19.4 req/s, 2310 tok/s, waiting: rpm")
    assert "|" not in plain_line(snap)
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.25}
    assert usage_text({**usage, "cache_hits": 2}) == (
        "tokens: 10 prompt + 5 completion = 15, cost 0.2500, cache hits 2"
    )
