"""The records that describe a job and its tasks to the outside (SPEC section 4)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from typing import Any, TextIO

from taskfleet.engine.records import iso, plain_result, result_record
from taskfleet.model import RESPONSE_META, Task, TaskStatus

__all__ = [
    "RESULT_COLUMNS",
    "RESULT_FORMATS",
    "iso",
    "iter_results",
    "openai_batch_record",
    "plain_result",
    "result_record",
    "task_row",
    "write_results",
]


def task_row(task: Task) -> dict[str, Any]:
    """One task's row for ``tasks --json``."""
    return {
        "id": task.id,
        "kind": task.kind,
        "status": task.status.value,
        "attempts": task.attempts,
        "priority": task.priority,
        "error": task.error,
    }


RESULT_COLUMNS = [
    "id",
    "kind",
    "status",
    "attempts",
    "result",
    "error",
    "started_at",
    "finished_at",
    "duration",
    "meta",  # JSON text; empty for a task without meta
]
RESULT_FORMATS = ("jsonl", "json", "csv", "openai-batch")


def openai_batch_record(task: Task) -> dict[str, Any]:
    """One line of the OpenAI Batch API output format for ``task``.

    As OpenAI does: an answered request (any HTTP status) has ``response``
    and ``error`` null; a request that got no answer (transport error,
    timeout, never sent because skipped or cancelled) has ``response`` null
    and ``error`` with a code and the message.
    """
    digest = hashlib.sha256(f"{task.job_id}\0{task.id}".encode()).hexdigest()[:32]
    record: dict[str, Any] = {"id": f"batch_req_{digest}", "custom_id": task.id}
    result = task.result
    meta = result.get(RESPONSE_META) if isinstance(result, dict) else None
    if isinstance(meta, dict) and "status_code" in meta:
        body = meta.get("body") if "body" in meta else plain_result(task)
        response = {
            "status_code": meta["status_code"],
            "request_id": meta.get("request_id"),
            "body": body,
        }
        return {**record, "response": response, "error": None}
    if task.status is TaskStatus.SUCCEEDED:  # a kind without transport details
        response = {"status_code": 200, "request_id": None, "body": result}
        return {**record, "response": response, "error": None}
    error = {"code": _error_code(task), "message": task.error or task.status.value}
    return {**record, "response": None, "error": error}


def _error_code(task: Task) -> str:
    if task.status is TaskStatus.FAILED:
        return "request_failed"
    return task.status.value  # skipped, cancelled, or not run yet


async def iter_results(tasks: AsyncIterator[Task], fmt: str) -> AsyncIterator[str]:
    """The text of one record per task in ``fmt`` (RESULT_FORMATS), a piece at a time.

    Records are made as tasks are read, so a job of a million tasks is never
    held in memory (the HTTP API streams these pieces).
    """
    if fmt == "openai-batch":
        async for task in tasks:
            yield json.dumps(openai_batch_record(task)) + "\n"
        return
    line = io.StringIO()
    writer = csv.DictWriter(line, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    if fmt == "csv":
        writer.writeheader()
        yield _take(line)
    elif fmt == "json":
        yield "["
    count = 0
    async for task in tasks:
        record = result_record(task)
        if fmt == "csv":
            meta = record.get("meta")
            meta_text = "" if meta is None else json.dumps(meta)
            writer.writerow({**record, "result": json.dumps(record["result"]), "meta": meta_text})
            yield _take(line)
        elif fmt == "json":
            yield ("\n  " if count == 0 else ",\n  ") + json.dumps(record)
        else:
            yield json.dumps(record) + "\n"
        count += 1
    if fmt == "json":
        yield "\n]\n" if count else "]\n"


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


async def write_results(tasks: AsyncIterator[Task], fmt: str, out: TextIO) -> int:
    """Write one record per task in ``fmt``, streaming; return the count."""
    count = 0

    async def counted() -> AsyncIterator[Task]:
        nonlocal count
        async for task in tasks:
            count += 1
            yield task

    async for piece in iter_results(counted(), fmt):
        out.write(piece)
    return count
