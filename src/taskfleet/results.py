"""The records that describe a job and its tasks to the outside (SPEC section 4)."""

from __future__ import annotations

import csv
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


async def write_results(tasks: AsyncIterator[Task], fmt: str, out: TextIO) -> int:
    """Write one record per task as ``jsonl``, ``json`` or ``csv``, streaming; return the count.

    Records are written as they are read, so a job of a million tasks is
    never held in memory.
    """
    count = 0
    writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    if fmt == "csv":
        writer.writeheader()
    elif fmt == "json":
        out.write("[")
    async for task in tasks:
        record = result_record(task)
        if fmt == "csv":
            writer.writerow({**record, "result": json.dumps(record["result"])})
        elif fmt == "json":
            out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(record))
        else:
            out.write(json.dumps(record) + "\n")
        count += 1
    if fmt == "json":
        out.write("\n]\n" if count else "]\n")
    return count
