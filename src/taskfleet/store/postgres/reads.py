"""Task reads of the PostgreSQL store: the claim window, tasks, counts, attempts, the change log.

Each function runs inside a transaction the store opened and turns rows
into model types; none of them writes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from taskfleet.model import Attempt, AttemptOutcome, StatusCounts, Task, TaskChange, TaskStatus
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.rows import task_from_row
from taskfleet.store.postgres.schema import Connection

_QUERIES = load_queries("taskfleet.store.postgres")
CLAIM_WINDOW = _QUERIES["claim_window"]
_GET_TASK = _QUERIES["get_task"]
_LIST_TASKS = _QUERIES["list_tasks"]
_COUNT_TASKS = _QUERIES["count_tasks"]
_LIST_ATTEMPTS = _QUERIES["list_attempts"]
_LIST_TASK_CHANGES = _QUERIES["list_task_changes"]


async def claim_window(conn: Connection, job_id: str, limit: int) -> Sequence[tuple[Any, ...]]:
    """Rows of up to ``limit`` startable tasks, highest priority then input order first."""
    cursor = await conn.execute(CLAIM_WINDOW, {"job_id": job_id, "limit": limit})
    return await cursor.fetchall()


async def select_task(conn: Connection, job_id: str, task_id: str) -> Task | None:
    """One task by its id, or None."""
    cursor = await conn.execute(_GET_TASK, (job_id, task_id))
    row = await cursor.fetchone()
    return None if row is None else task_from_row(row)


async def select_tasks(
    conn: Connection,
    job_id: str,
    statuses: Collection[TaskStatus] | None,
    after_seq: int,
    limit: int,
    search: str | None,
) -> list[Task]:
    """Tasks in input order with ``seq > after_seq``; ``search`` matches inside ids."""
    params = {
        "job_id": job_id,
        "after_seq": after_seq,
        "all_statuses": statuses is None,
        "statuses": [status.value for status in statuses or ()],
        "search": search or None,
        "limit": limit,
    }
    cursor = await conn.execute(_LIST_TASKS, params)
    return [task_from_row(row) for row in await cursor.fetchall()]


async def count_tasks(conn: Connection, job_id: str) -> StatusCounts:
    """Tasks per status."""
    cursor = await conn.execute(_COUNT_TASKS, (job_id,))
    rows = await cursor.fetchall()
    return StatusCounts.from_mapping({TaskStatus(status): n for status, n in rows})


async def select_attempts(conn: Connection, job_id: str, task: Task) -> list[Attempt]:
    """Every recorded attempt of ``task``, oldest first."""
    cursor = await conn.execute(_LIST_ATTEMPTS, (job_id, task.seq))
    return [
        Attempt(task.id, number, runner_id, started_at, finished_at, _outcome(outcome), error)
        for number, runner_id, started_at, finished_at, outcome, error in await cursor.fetchall()
    ]


async def select_task_changes(
    conn: Connection, job_id: str, after_change_seq: int, limit: int
) -> list[TaskChange]:
    """The job's task state changes after ``after_change_seq``, oldest first."""
    cursor = await conn.execute(_LIST_TASK_CHANGES, (job_id, after_change_seq, limit))
    return [
        TaskChange(change_seq, task_id, TaskStatus(status), attempt, error, finished_at)
        for change_seq, task_id, status, attempt, error, finished_at in await cursor.fetchall()
    ]


def _outcome(stored: str | None) -> AttemptOutcome | None:
    """``attempts.outcome`` as read: None while the attempt runs."""
    return None if stored is None else AttemptOutcome(stored)
