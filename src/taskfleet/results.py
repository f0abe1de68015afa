"""The records that describe a job and its tasks to the outside (SPEC section 4)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
