"""Task queries of the PostgreSQL store: the named reads, and the bulk writes
(insert a job's tasks, release leases, reopen).

Each function runs inside a transaction the caller opened. Attempt starts
and ends (the group commits) are in ``postgres_record``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from taskfleet.errors import TaskfileError, TaskfileIssue
from taskfleet.model import TaskSpec, TaskStatus
from taskfleet.store.common.rows import TASK_COLUMNS, TASK_INSERT_COLUMNS, task_insert_row
from taskfleet.store.postgres.schema import JOB_LOCK_NAMESPACE, Connection

BATCH_SIZE = 5000

# -- named queries the store runs as they are ------------------------------------

# A read, not a write: the lease is written with the attempt's start (store/claims.py).
# The WHERE repeats the partial index tasks_claimable so the planner uses it.
CLAIM_WINDOW = f"""
SELECT {TASK_COLUMNS} FROM tasks
WHERE job_id = %(job_id)s AND lease_owner IS NULL AND unmet_deps = 0
  AND status IN ('queued', 'pending')
ORDER BY priority DESC, seq LIMIT %(limit)s
"""
CANCEL_OPEN_TASKS = """
UPDATE tasks SET status = 'cancelled', finished_at = %s, error = 'cancelled', lease_owner = NULL
WHERE job_id = %s AND status IN ('pending', 'queued')
"""
FAIL_TASKS = """
UPDATE tasks SET status = 'failed', error = %(error)s, lease_owner = NULL
WHERE job_id = %(job_id)s AND task_id = ANY(%(task_ids)s::text[])
RETURNING task_id
"""
COUNT_TASKS = "SELECT status, count(*) FROM tasks WHERE job_id = %s GROUP BY status"
GET_TASK = f"SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = %s AND task_id = %s"
LIST_TASKS = f"""
SELECT {TASK_COLUMNS} FROM tasks
WHERE job_id = %(job_id)s AND seq > %(after_seq)s
  AND (%(all_statuses)s OR status = ANY(%(statuses)s::text[]))
  AND (%(search)s::text IS NULL OR strpos(task_id, %(search)s::text) > 0)
ORDER BY seq LIMIT %(limit)s
"""
ATTEMPTS = """
SELECT number, runner_id, started_at, finished_at, outcome, error
FROM attempts WHERE job_id = %s AND seq = %s ORDER BY number
"""
TASK_CHANGES = """
SELECT change_seq, task_id, status, attempt, error, finished_at FROM task_changes
WHERE job_id = %s AND change_seq > %s ORDER BY change_seq LIMIT %s
"""

# -- bulk writes ------------------------------------------------------------------

# hashtext: a job id of any length becomes the lock's 32-bit key.
_LOCK_JOB_TASKS = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
_COPY_TASKS = f"COPY tasks ({TASK_INSERT_COLUMNS}) FROM STDIN"
_COPY_EDGES = "COPY dep_staging (seq, dep_task_id) FROM STDIN"
_UNKNOWN_DEPENDENCIES = """
SELECT t.task_id, s.dep_task_id FROM dep_staging AS s
JOIN tasks AS t ON t.job_id = %(job_id)s AND t.seq = s.seq
WHERE NOT EXISTS (
    SELECT 1 FROM tasks AS d WHERE d.job_id = %(job_id)s AND d.task_id = s.dep_task_id
)
ORDER BY s.seq, s.dep_task_id LIMIT 20
"""
_RESOLVE_DEPENDENCIES = """
INSERT INTO task_deps (job_id, seq, dep_seq)
SELECT %(job_id)s, s.seq, d.seq FROM dep_staging AS s
JOIN tasks AS d ON d.job_id = %(job_id)s AND d.task_id = s.dep_task_id
"""

_CLOSE_INTERRUPTED_ATTEMPTS = """
UPDATE attempts AS a SET finished_at = %(now)s, outcome = 'interrupted'
FROM tasks AS t
WHERE t.job_id = %(job_id)s AND t.lease_owner = %(runner_id)s AND t.status = 'running'
  AND a.job_id = t.job_id AND a.seq = t.seq AND a.finished_at IS NULL
"""
_RELEASE_LEASES = """
UPDATE tasks SET lease_owner = NULL,
    status = CASE WHEN status = 'running' THEN 'queued' ELSE status END
WHERE job_id = %(job_id)s AND lease_owner = %(runner_id)s
"""

# One statement: the CTEs read the rows before the update, so a dependency
# reopened in the same call counts as unmet, and each task's status changes
# once (one change logged), straight to queued or pending.
_REOPEN = """
WITH selection AS (
    SELECT seq FROM tasks
    WHERE job_id = %(job_id)s
      AND (status = ANY(%(statuses)s::text[]) OR task_id = ANY(%(task_ids)s::text[]))
), unmet AS (
    SELECT s.seq, count(dep.seq) FILTER (
        WHERE dep.status <> 'succeeded' OR dep.seq IN (SELECT seq FROM selection)
    ) AS n
    FROM selection AS s
    LEFT JOIN task_deps AS d ON d.job_id = %(job_id)s AND d.seq = s.seq
    LEFT JOIN tasks AS dep ON dep.job_id = d.job_id AND dep.seq = d.dep_seq
    GROUP BY s.seq
)
UPDATE tasks AS t SET status = CASE WHEN u.n > 0 THEN 'pending' ELSE 'queued' END,
    unmet_deps = u.n, failures = 0, error = NULL, result = NULL, not_before = NULL,
    lease_owner = NULL, finished_at = NULL, duration_s = NULL
FROM unmet AS u
WHERE t.job_id = %(job_id)s AND t.seq = u.seq
"""


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
            async with cursor.copy(_COPY_EDGES) as copy:
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
        # A temp table never gets statistics by itself; the anti-join needs them.
        await conn.execute("ANALYZE dep_staging")
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


async def release_leases(conn: Connection, job_id: str, runner_id: str, now: float) -> None:
    """Free ``runner_id``'s tasks: running ones go back to queued, their attempts interrupted."""
    params = {"job_id": job_id, "runner_id": runner_id, "now": now}
    await conn.execute(_CLOSE_INTERRUPTED_ATTEMPTS, params)
    await conn.execute(_RELEASE_LEASES, params)


async def reopen_tasks(
    conn: Connection,
    job_id: str,
    statuses: Collection[TaskStatus],
    task_ids: Collection[str],
) -> int:
    """Reopen the selected tasks with fresh retries; return how many."""
    params = {
        "job_id": job_id,
        "statuses": [status.value for status in statuses],
        "task_ids": list(task_ids),
    }
    cursor = await conn.execute(_REOPEN, params)
    return cursor.rowcount
