"""Model objects to JSON-ready dicts, shared by the routes (no logic beyond shaping)."""

from __future__ import annotations

from typing import Any

from taskfleet.model import Attempt, Task
from taskfleet.service import JobReport
from taskfleet.service.results import iso, result_record, task_row


def job_object(report: JobReport, progress: dict[str, Any]) -> dict[str, Any]:
    """The status object with ``progress`` as the progress block."""
    return {**report.to_dict(), "progress": progress}


def task_list_row(task: Task) -> dict[str, Any]:
    """One row of ``GET /jobs/{id}/tasks``."""
    return {
        "seq": task.seq,
        **task_row(task),
        "description": task.description,
        "started_at": iso(task.started_at),
        "finished_at": iso(task.finished_at),
        "duration": task.duration_s,
    }


def attempt_object(attempt: Attempt) -> dict[str, Any]:
    """One attempt of a task."""
    return {
        "number": attempt.number,
        "runner_id": attempt.runner_id,
        "started_at": iso(attempt.started_at),
        "finished_at": iso(attempt.finished_at),
        "outcome": attempt.outcome,
        "error": attempt.error,
    }


def task_detail(task: Task, attempts: list[Attempt]) -> dict[str, Any]:
    """``GET /jobs/{id}/tasks/{task_id}``."""
    return {
        **result_record(task),
        "spec": task.spec,
        "description": task.description,
        "depends_on": list(task.depends_on),
        "attempt_history": [attempt_object(attempt) for attempt in attempts],
    }


def batch_job(
    report: JobReport, progress: dict[str, Any], results: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """A job in the shape of the older batch API."""
    status = report.to_dict()
    counts = report.counts
    return {
        "job_id": status["job_id"],
        "status": status["status"],
        "progress": status["progress"],
        "result": {
            "summary": {
                "total": counts.total,
                "successful": counts.succeeded,
                "failed": counts.failed + counts.cancelled,
                "skipped": counts.skipped,
            },
            "results": results,
            "elapsed_seconds": status["elapsed_seconds"],
        },
        "error": status["error"],
        "created_at": status["created_at"],
        "started_at": status["started_at"],
        "completed_at": status["finished_at"],
        "metadata": {"progress": progress, "name": status["name"]},
    }
