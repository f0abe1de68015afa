"""Task writes of the PostgreSQL store: the job's task lock, inserting a job's
tasks, and the bulk changes (cancel, fail, release, reopen).

Each function runs inside a transaction the caller opened. Attempt starts
and ends (the group commits) are in ``record``, the reads in ``reads``.
Every status change passes its (from, to) pairs through the model's gate
(``transitions``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from taskfleet.errors import TaskfileError, TaskfileIssue
from taskfleet.model import AttemptOutcome, TaskSpec, TaskStatus
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.rows import encode_json, task_insert_row
from taskfleet.store.common.transitions import allowed_task_sources, checked_task_sources
from taskfleet.store.postgres.schema import JOB_LOCK_NAMESPACE, Connection

BATCH_SIZE = 5000


_QUERIES = load_queries("taskfleet.store.postgres")
ANALYZE_TASKS = _QUERIES["analyze_tasks"]
_LOCK_JOB_TASKS = _QUERIES["lock_job_tasks"]
_COPY_TASKS = _QUERIES["copy_tasks"]
_COPY_DEPENDENCY_EDGES = _QUERIES["copy_dependency_edges"]
_RESOLVE_DEPENDENCIES = _QUERIES["resolve_dependencies"]
_ANALYZE_DEP_STAGING = _QUERIES["analyze_dep_staging"]
_UNKNOWN_DEPENDENCIES = _QUERIES["unknown_dependencies"]
_CANCEL_OPEN_TASKS = _QUERIES["cancel_open_tasks"]
_FAIL_TASKS = _QUERIES["fail_tasks"]
_SET_TASK_RESULT = _QUERIES["set_task_result"]
_INTERRUPT_ATTEMPTS = _QUERIES["interrupt_attempts"]
_RELEASE_TASK_LEASES = _QUERIES["release_task_leases"]
_REOPEN_TASKS = _QUERIES["reopen_tasks"]

# What cancel_open_tasks changes: the tasks that have not started.
_OPEN_STATES = (TaskStatus.PENDING, TaskStatus.QUEUED)


async def lock_job_tasks(conn: Connection, job_id: str) -> None:
    """Serialise the transactions that change one job's tasks, until commit.

    Two writers of the same job (its runner and a ``cancel`` from elsewhere)
    would otherwise interleave, and their change log rows could commit out
    of ``change_seq`` order, so a reader could skip one.
    """
    await conn.execute(_LOCK_JOB_TASKS, (JOB_LOCK_NAMESPACE, job_id))


async def insert_tasks(conn: Connection, job_id: str, tasks: Iterable[TaskSpec]) -> int:
    """Insert the tasks and their dependencies with COPY, in batches; return how many."""
    rows: list[tuple[Any, ...]] = []
    edges: list[tuple[int, str]] = []
    total = staged = 0
    for spec in tasks:
        depends_on = tuple(dict.fromkeys(spec.depends_on))
        rows.append(task_insert_row(job_id, spec, depends_on))
        edges.extend((spec.seq, dep) for dep in depends_on)
        if len(rows) >= BATCH_SIZE or len(edges) >= BATCH_SIZE:
            staged += len(edges)
            total += await _flush(conn, rows, edges)
    staged += len(edges)
    total += await _flush(conn, rows, edges)
    if staged:
        await _resolve_dependencies(conn, job_id, staged)
    return total


async def _flush(
    conn: Connection, rows: list[tuple[Any, ...]], edges: list[tuple[int, str]]
) -> int:
    count = len(rows)
    async with conn.cursor() as cursor:
        if rows:
            async with cursor.copy(_COPY_TASKS) as copy:
                for row in rows:
                    await copy.write_row(row)
        if edges:
            async with cursor.copy(_COPY_DEPENDENCY_EDGES) as copy:
                for edge in edges:
                    await copy.write_row(edge)
    rows.clear()
    edges.clear()
    return count


async def _resolve_dependencies(conn: Connection, job_id: str, staged: int) -> None:
    """Turn the staged edges into task_deps rows; TaskfileError if a dependency is unknown."""
    params = {"job_id": job_id}
    cursor = await conn.execute(_RESOLVE_DEPENDENCIES, params)
    # Each staged edge names one task or none (task ids are unique in a job):
    # fewer rows than edges means an unknown id, and only then is it looked up.
    if cursor.rowcount < staged:
        await conn.execute(_ANALYZE_DEP_STAGING)
        cursor = await conn.execute(_UNKNOWN_DEPENDENCIES, params)
        unknown = await cursor.fetchall()
        # The parser rejects these; a task waiting on a missing one would never start.
        raise TaskfileError(
            [
                TaskfileIssue(
                    f"job {job_id}", None, "depends_on", f"task '{task}': no task '{dep}'"
                )
                for task, dep in unknown
            ]
        )


async def cancel_open_tasks(conn: Connection, job_id: str, now: float) -> int:
    """Cancel every task that has not started (pending, queued); return how many."""
    params = {
        "job_id": job_id,
        "now": now,
        "error": "cancelled",
        "status": TaskStatus.CANCELLED.value,
        "from_statuses": checked_task_sources(_OPEN_STATES, TaskStatus.CANCELLED),
    }
    cursor = await conn.execute(_CANCEL_OPEN_TASKS, params)
    return cursor.rowcount


async def fail_tasks(conn: Connection, job_id: str, task_ids: list[str], error: str) -> set[str]:
    """Mark the named tasks ``failed`` (those whose state may become it); return their ids."""
    params = {
        "job_id": job_id,
        "error": error,
        "task_ids": task_ids,
        "status": TaskStatus.FAILED.value,
        "from_statuses": allowed_task_sources(TaskStatus.FAILED),
    }
    cursor = await conn.execute(_FAIL_TASKS, params)
    return {row[0] for row in await cursor.fetchall()}


async def release_leases(conn: Connection, job_id: str, runner_id: str, now: float) -> None:
    """Free ``runner_id``'s tasks: running ones go back to queued, their attempts interrupted."""
    [running] = checked_task_sources([TaskStatus.RUNNING], TaskStatus.QUEUED)
    params = {
        "job_id": job_id,
        "runner_id": runner_id,
        "now": now,
        "outcome": AttemptOutcome.INTERRUPTED.value,
        "running": running,
        "queued": TaskStatus.QUEUED.value,
    }
    await conn.execute(_INTERRUPT_ATTEMPTS, params)
    await conn.execute(_RELEASE_TASK_LEASES, params)


async def reopen_tasks(
    conn: Connection,
    job_id: str,
    statuses: Collection[TaskStatus],
    task_ids: Collection[str],
) -> int:
    """Reopen the selected tasks with fresh retries; return how many.

    Tasks picked by status must all be reopenable (each pair is checked);
    tasks picked by id are reopened when their state may become both queued
    and pending (which of the two depends on their dependencies).
    """
    picked = checked_task_sources(statuses, TaskStatus.QUEUED)
    checked_task_sources(statuses, TaskStatus.PENDING)
    pending_ok = allowed_task_sources(TaskStatus.PENDING)
    reopenable = [state for state in allowed_task_sources(TaskStatus.QUEUED) if state in pending_ok]
    params = {
        "job_id": job_id,
        "statuses": picked,
        "task_ids": list(task_ids),
        "from_statuses": reopenable,
        "queued": TaskStatus.QUEUED.value,
        "pending": TaskStatus.PENDING.value,
        "succeeded": TaskStatus.SUCCEEDED.value,
    }
    cursor = await conn.execute(_REOPEN_TASKS, params)
    return cursor.rowcount


async def set_task_result(conn: Connection, job_id: str, task_id: str, result: Any) -> bool:
    """Replace one task's result; False when the job has no such task."""
    params = {"job_id": job_id, "task_id": task_id, "result": encode_json(result)}
    cursor = await conn.execute(_SET_TASK_RESULT, params)
    return await cursor.fetchone() is not None
