"""Bulk task writes of the SQLite store: insert a job's tasks, release leases, reopen.

Each function runs inside a transaction the caller opened. Attempt starts
and ends (the group commits) are in ``sqlite_record``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from taskfleet.errors import TaskfileError, TaskfileIssue
from taskfleet.model import TaskSpec, TaskStatus
from taskfleet.store.common.rows import TASK_INSERT_COLUMNS, encode_json, task_insert_row

BATCH_SIZE = 1000

_INSERT_TASK = (
    f"INSERT INTO tasks ({TASK_INSERT_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(TASK_INSERT_COLUMNS.split(',')))})"
)
_STAGE_DEPENDENCY = "INSERT INTO temp.dep_staging (seq, dep_task_id) VALUES (?, ?)"
_UNKNOWN_DEPENDENCIES = """
SELECT t.task_id, s.dep_task_id FROM temp.dep_staging AS s
JOIN tasks AS t ON t.job_id = :job_id AND t.seq = s.seq
WHERE NOT EXISTS (
    SELECT 1 FROM tasks AS d WHERE d.job_id = :job_id AND d.task_id = s.dep_task_id
)
ORDER BY s.rowid LIMIT 20
"""
_RESOLVE_DEPENDENCIES = """
INSERT INTO task_deps (job_id, seq, dep_seq)
SELECT :job_id, s.seq, d.seq FROM temp.dep_staging AS s
JOIN tasks AS d ON d.job_id = :job_id AND d.task_id = s.dep_task_id
"""
_MARK_HAS_DEPENDANTS = """
UPDATE tasks SET has_dependants = 1
WHERE job_id = :job_id AND seq IN (SELECT dep_seq FROM task_deps WHERE job_id = :job_id)
"""

_CLOSE_INTERRUPTED_ATTEMPTS = """
UPDATE attempts SET finished_at = :now, outcome = 'interrupted'
FROM tasks AS t
WHERE t.job_id = :job_id AND t.lease_owner = :runner_id AND t.status = 'running'
  AND attempts.job_id = t.job_id AND attempts.seq = t.seq AND attempts.finished_at IS NULL
"""
_RELEASE_LEASES = """
UPDATE tasks SET lease_owner = NULL,
    status = CASE WHEN status = 'running' THEN 'queued' ELSE status END
WHERE job_id = :job_id AND lease_owner = :runner_id
"""

_SELECT_FOR_REOPEN = """
INSERT INTO temp.reopen_selection (seq)
SELECT seq FROM tasks WHERE job_id = :job_id AND (
    status IN (SELECT value FROM json_each(:statuses))
    OR task_id IN (SELECT value FROM json_each(:task_ids))
)
"""
# A task row may hold its latest attempt (schema v2): move it to attempts
# before the row is reset or re-marked, so no attempt is lost.
ARCHIVE_ROW_ATTEMPT = """
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT job_id, seq, attempts, COALESCE(attempt_runner, ''), started_at, finished_at,
    attempt_outcome, error
FROM tasks WHERE job_id = :job_id AND attempt_outcome IS NOT NULL AND seq IN ({selection})
ON CONFLICT (job_id, seq, number) DO NOTHING
"""
CLEAR_ROW_ATTEMPT = """
UPDATE tasks SET attempt_outcome = NULL
WHERE job_id = :job_id AND attempt_outcome IS NOT NULL AND seq IN ({selection})
"""
_REOPEN_SELECTION = "SELECT seq FROM temp.reopen_selection"
# Queued first, so that a dependency reopened in the same call counts as unmet below.
_REOPEN = """
UPDATE tasks SET status = 'queued', failures = 0, error = NULL, result = NULL,
    not_before = NULL, lease_owner = NULL, finished_at = NULL, duration_s = NULL
WHERE job_id = :job_id AND seq IN (SELECT seq FROM temp.reopen_selection)
"""
# CROSS JOIN fixes the join order: SQLite's planner, without statistics on a
# fresh file, would otherwise scan all of the job's tasks per reopened task.
_RECOUNT_UNMET = """
UPDATE tasks SET unmet_deps = (
    SELECT count(*) FROM task_deps AS d
    CROSS JOIN tasks AS dep ON dep.job_id = d.job_id AND dep.seq = d.dep_seq
    WHERE d.job_id = tasks.job_id AND d.seq = tasks.seq AND dep.status != 'succeeded'
)
WHERE job_id = :job_id AND seq IN (SELECT seq FROM temp.reopen_selection)
"""
_PEND_UNMET = """
UPDATE tasks SET status = 'pending'
WHERE job_id = :job_id AND unmet_deps > 0 AND seq IN (SELECT seq FROM temp.reopen_selection)
"""


def insert_tasks(conn: sqlite3.Connection, job_id: str, tasks: Iterable[TaskSpec]) -> int:
    """Insert the tasks and their dependencies in batches; return how many."""
    conn.execute("DELETE FROM temp.dep_staging")
    rows: list[tuple[Any, ...]] = []
    edges: list[tuple[int, str]] = []
    total = 0
    for spec in tasks:
        depends_on = tuple(dict.fromkeys(spec.depends_on))
        rows.append(task_insert_row(job_id, spec, depends_on))
        edges.extend((spec.seq, dep) for dep in depends_on)
        if len(rows) >= BATCH_SIZE or len(edges) >= BATCH_SIZE:
            total += _flush_tasks(conn, rows, edges)
    total += _flush_tasks(conn, rows, edges)
    if conn.execute("SELECT 1 FROM temp.dep_staging LIMIT 1").fetchone() is not None:
        _resolve_dependencies(conn, job_id)
    return total


def _flush_tasks(
    conn: sqlite3.Connection, rows: list[tuple[Any, ...]], edges: list[tuple[int, str]]
) -> int:
    count = len(rows)
    conn.executemany(_INSERT_TASK, rows)
    conn.executemany(_STAGE_DEPENDENCY, edges)
    rows.clear()
    edges.clear()
    return count


def _resolve_dependencies(conn: sqlite3.Connection, job_id: str) -> None:
    params = {"job_id": job_id}
    unknown = conn.execute(_UNKNOWN_DEPENDENCIES, params).fetchall()
    if unknown:
        # The parser rejects these; a task waiting on a missing one would never start.
        raise TaskfileError(
            [
                TaskfileIssue(
                    f"job {job_id}", None, "depends_on", f"task '{task}': no task '{dep}'"
                )
                for task, dep in unknown
            ]
        )
    conn.execute(_RESOLVE_DEPENDENCIES, params)
    conn.execute(_MARK_HAS_DEPENDANTS, params)
    conn.execute("DELETE FROM temp.dep_staging")


def release_leases(conn: sqlite3.Connection, job_id: str, runner_id: str, now: float) -> None:
    """Free ``runner_id``'s tasks: running ones go back to queued, their attempts interrupted."""
    params = {"job_id": job_id, "runner_id": runner_id, "now": now}
    conn.execute(_CLOSE_INTERRUPTED_ATTEMPTS, params)
    conn.execute(_RELEASE_LEASES, params)


def reopen_tasks(
    conn: sqlite3.Connection,
    job_id: str,
    statuses: Collection[TaskStatus],
    task_ids: Collection[str],
) -> int:
    """Reopen the selected tasks with fresh retries; return how many."""
    conn.execute("DELETE FROM temp.reopen_selection")
    params = {
        "job_id": job_id,
        "statuses": encode_json([status.value for status in statuses]),
        "task_ids": encode_json(list(task_ids)),
    }
    count = conn.execute(_SELECT_FOR_REOPEN, params).rowcount
    if count:
        archive_row_attempts(conn, params, _REOPEN_SELECTION)
        conn.execute(_REOPEN, params)
        conn.execute(_RECOUNT_UNMET, params)
        conn.execute(_PEND_UNMET, params)
    conn.execute("DELETE FROM temp.reopen_selection")
    return count


def archive_row_attempts(
    conn: sqlite3.Connection, params: Mapping[str, Any], selection: str
) -> None:
    """Move the attempts kept in the selected task rows to the attempts table."""
    conn.execute(ARCHIVE_ROW_ATTEMPT.format(selection=selection), params)
    conn.execute(CLEAR_ROW_ATTEMPT.format(selection=selection), params)
