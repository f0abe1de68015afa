"""Task reads of the SQLite store: the claim window, one task, pages, counts, attempts, changes.

Each function runs inside a read the caller opened; none changes a row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping
from typing import Any

from taskfleet.errors import TaskNotFound
from taskfleet.model import Attempt, AttemptOutcome, StatusCounts, Task, TaskChange, TaskStatus
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.rows import encode_json, task_from_row
from taskfleet.store.sqlite.jobs import require_job

_QUERIES = load_queries("taskfleet.store.sqlite")
_CLAIM_WINDOW = _QUERIES["claim_window"]
_GET_TASK = _QUERIES["get_task"]
_LIST_TASKS = _QUERIES["list_tasks"]
_COUNT_TASKS_BY_STATUS = _QUERIES["count_tasks_by_status"]
_LIST_ATTEMPTS = _QUERIES["list_attempts"]
_ROW_ATTEMPT = _QUERIES["row_attempt"]
_LIST_TASK_CHANGES = _QUERIES["list_task_changes"]


def claim_window(
    conn: sqlite3.Connection, job_id: str, limit: int, held: Mapping[int, str]
) -> list[Task]:
    """Up to ``limit`` startable tasks not in ``held``, highest priority then input order first."""
    params = {"job_id": job_id, "limit": limit, "held": encode_json(list(held))}
    rows = conn.execute(_CLAIM_WINDOW, params).fetchall()
    spec_cache: dict[str, Any] = {}
    return [task_from_row(row, spec_cache) for row in rows]


def get_task(conn: sqlite3.Connection, job_id: str, task_id: str) -> Task:
    """One task; raises TaskNotFound (or JobNotFound)."""
    row = conn.execute(_GET_TASK, (job_id, task_id)).fetchone()
    if row is None:
        require_job(conn, job_id)
        raise TaskNotFound(job_id, task_id)
    return task_from_row(row)


def list_tasks(
    conn: sqlite3.Connection,
    job_id: str,
    statuses: Collection[TaskStatus] | None,
    after_seq: int,
    limit: int,
    search: str | None,
) -> list[Task]:
    """Tasks in input order with ``seq > after_seq``; ``search`` matches inside ids."""
    require_job(conn, job_id)
    params = {
        "job_id": job_id,
        "after_seq": after_seq,
        "limit": limit,
        "statuses": None if statuses is None else encode_json([s.value for s in statuses]),
        "search": search or None,
    }
    return [task_from_row(row) for row in conn.execute(_LIST_TASKS, params).fetchall()]


def count_tasks(conn: sqlite3.Connection, job_id: str) -> StatusCounts:
    """The job's tasks per status."""
    require_job(conn, job_id)
    rows = conn.execute(_COUNT_TASKS_BY_STATUS, (job_id,)).fetchall()
    return StatusCounts.from_mapping({TaskStatus(status): n for status, n in rows})


def list_attempts(conn: sqlite3.Connection, job_id: str, task: Task) -> list[Attempt]:
    """Every recorded attempt of ``task``, oldest first (the latest may be in its row)."""
    rows = conn.execute(_LIST_ATTEMPTS, (job_id, task.seq)).fetchall()
    rows += conn.execute(_ROW_ATTEMPT, (job_id, task.seq)).fetchall()
    return [
        Attempt(
            task.id,
            number,
            runner_id,
            started_at,
            finished_at,
            None if outcome is None else AttemptOutcome(outcome),
            error,
        )
        for number, runner_id, started_at, finished_at, outcome, error in rows
    ]


def list_task_changes(
    conn: sqlite3.Connection, job_id: str, after_change_seq: int, limit: int
) -> list[TaskChange]:
    """The job's task status changes after ``after_change_seq``, oldest first."""
    require_job(conn, job_id)
    rows = conn.execute(_LIST_TASK_CHANGES, (after_change_seq, job_id, limit)).fetchall()
    return [TaskChange(row[0], row[1], TaskStatus(row[2]), row[3], row[4], row[5]) for row in rows]
