"""The records that describe a job and its tasks to the outside (SPEC section 4)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, TextIO

from taskfleet.model import Task


def iso(timestamp: float | None) -> str | None:
    """ISO 8601 UTC text for a POSIX time, or None."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def result_record(task: Task) -> dict[str, Any]:
    """One task's results record: id, kind, status, attempts, result, error, times."""
    return {
        "id": task.id,
        "kind": task.kind,
        "status": task.status.value,
        "attempts": task.attempts,
        "result": task.result,
        "error": task.error,
        "started_at": iso(task.started_at),
        "finished_at": iso(task.finished_at),
        "duration": task.duration_s,
    }


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
]
RESULT_FORMATS = ("jsonl", "json", "csv")


async def iter_results(tasks: AsyncIterator[Task], fmt: str) -> AsyncIterator[str]:
    """The text of one record per task as ``jsonl``, ``json`` or ``csv``, a piece at a time.

    Records are made as tasks are read, so a job of a million tasks is never
    held in memory (the HTTP API streams these pieces).
    """
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
            writer.writerow({**record, "result": json.dumps(record["result"])})
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
    """Write one record per task as ``jsonl``, ``json`` or ``csv``, streaming; return the count."""
    count = 0

    async def counted() -> AsyncIterator[Task]:
        nonlocal count
        async for task in tasks:
            count += 1
            yield task

    async for piece in iter_results(counted(), fmt):
        out.write(piece)
    return count
