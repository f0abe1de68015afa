"""A task's results record (SPEC section 4).

One shape for the validation command's results file, the results formats
of ``service.results`` and every interface.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from taskfleet.model import RESPONSE_META, Task, TaskStatus

__all__ = ["iso", "plain_result", "result_record"]


def iso(timestamp: float | None) -> str | None:
    """ISO 8601 UTC text for a POSIX time, or None."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def plain_result(task: Task) -> Any:
    """The task's result without transport details (an llm answer's ``_response``)."""
    result = task.result
    if isinstance(result, dict) and RESPONSE_META in result:
        result = {k: v for k, v in result.items() if k != RESPONSE_META}
        if not result and task.status is not TaskStatus.SUCCEEDED:
            return None  # a failed request's details live in `error`
    return result


def result_record(task: Task) -> dict[str, Any]:
    """One task's results record: id, kind, status, attempts, result, error, times, meta."""
    record: dict[str, Any] = {
        "id": task.id,
        "kind": task.kind,
        "status": task.status.value,
        "attempts": task.attempts,
        "result": plain_result(task),
        "error": task.error,
        "started_at": iso(task.started_at),
        "finished_at": iso(task.finished_at),
        "duration": task.duration_s,
    }
    if task.meta is not None:  # only a task that has it: records of others stay as they were
        record["meta"] = task.meta
    return record
