"""Task writes of the SQLite store outside group commits: insert, cancel, fail, reopen, release.

Each function runs inside a transaction the caller opened. Attempt starts
and ends (the group commits) are in ``record``. Every status change passes
the state machine's gate (``transitions``): the checks at import below.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from typing import Any

from taskfleet.errors import TaskfileError, TaskfileIssue
from taskfleet.model import AttemptOutcome, TaskSpec, TaskStatus
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.rows import encode_json, task_insert_row
from taskfleet.store.common.transitions import checked_task_sources

BATCH_SIZE = 1000

_QUERIES = load_queries("taskfleet.store.sqlite")
_CLEAR_DEPENDENCY_STAGING = _QUERIES["clear_dependency_staging"]
_INSERT_TASK = _QUERIES["insert_task"]
_STAGE_DEPENDENCY = _QUERIES["stage_dependency"]
_ANY_STAGED_DEPENDENCY = _QUERIES["any_staged_dependency"]
_UNKNOWN_DEPENDENCIES = _QUERIES["unknown_dependencies"]
_RESOLVE_DEPENDENCIES = _QUERIES["resolve_dependencies"]
_MARK_HAS_DEPENDANTS = _QUERIES["mark_has_dependants"]
_CLOSE_INTERRUPTED_ATTEMPTS = _QUERIES["close_interrupted_attempts"]
_RELEASE_LEASES = _QUERIES["release_leases"]
_CANCEL_OPEN_TASKS = _QUERIES["cancel_open_tasks"]
_ARCHIVE_ROW_ATTEMPTS_OF_TASK_IDS = _QUERIES["archive_row_attempts_of_task_ids"]
_CLEAR_ROW_ATTEMPTS_OF_TASK_IDS = _QUERIES["clear_row_attempts_of_task_ids"]
_STATUSES_OF_TASK_IDS = _QUERIES["statuses_of_task_ids"]
_FAIL_TASKS = _QUERIES["fail_tasks"]
_SET_TASK_RESULT = _QUERIES["set_task_result"]
_CLEAR_REOPEN_SELECTION = _QUERIES["clear_reopen_selection"]
_SELECT_FOR_REOPEN = _QUERIES["select_for_reopen"]
_ARCHIVE_ROW_ATTEMPTS_OF_SELECTION = _QUERIES["archive_row_attempts_of_reopen_selection"]
_CLEAR_ROW_ATTEMPTS_OF_SELECTION = _QUERIES["clear_row_attempts_of_reopen_selection"]
_REOPEN_SELECTED = _QUERIES["reopen_selected"]
_RECOUNT_UNMET_DEPENDENCIES = _QUERIES["recount_unmet_dependencies"]
_PEND_UNMET = _QUERIES["pend_unmet"]

_S = TaskStatus
# The changes the statements above make, as their WHERE clauses admit them.
checked_task_sources([_S.RUNNING], _S.QUEUED)  # release_leases
checked_task_sources([_S.PENDING, _S.QUEUED], _S.CANCELLED)  # cancel_open_tasks
checked_task_sources(_S, _S.QUEUED)  # reopen_selected: any task may be reopened
checked_task_sources([_S.QUEUED], _S.PENDING)  # pend_unmet
# fail_tasks: checked at each call, against the statuses it reads.


def insert_tasks(conn: sqlite3.Connection, job_id: str, tasks: Iterable[TaskSpec]) -> int:
    """Insert the tasks and their dependencies in batches; return how many."""
    conn.execute(_CLEAR_DEPENDENCY_STAGING)
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
    if conn.execute(_ANY_STAGED_DEPENDENCY).fetchone() is not None:
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
    conn.execute(_CLEAR_DEPENDENCY_STAGING)


def release_leases(conn: sqlite3.Connection, job_id: str, runner_id: str, now: float) -> None:
    """Free ``runner_id``'s tasks: running ones go back to queued, their attempts interrupted."""
    params = {
        "job_id": job_id,
        "runner_id": runner_id,
        "now": now,
        "interrupted": AttemptOutcome.INTERRUPTED.value,
    }
    conn.execute(_CLOSE_INTERRUPTED_ATTEMPTS, params)
    conn.execute(_RELEASE_LEASES, params)


def cancel_open_tasks(conn: sqlite3.Connection, job_id: str, now: float) -> int:
    """Cancel every ``pending`` or ``queued`` task; return how many."""
    cancelled: int = conn.execute(_CANCEL_OPEN_TASKS, (now, job_id)).rowcount
    return cancelled


def fail_tasks(conn: sqlite3.Connection, job_id: str, task_ids: list[str], error: str) -> set[str]:
    """Mark the named tasks ``failed``, all or (InvalidTransition) none; return the ids found."""
    params = {"job_id": job_id, "error": error, "task_ids": encode_json(task_ids)}
    # Validation runs rarely: reading the statuses first (in the same
    # transaction) checks exactly the changes fail_tasks is about to make.
    statuses = [TaskStatus(row[0]) for row in conn.execute(_STATUSES_OF_TASK_IDS, params)]
    checked_task_sources(statuses, TaskStatus.FAILED)
    conn.execute(_ARCHIVE_ROW_ATTEMPTS_OF_TASK_IDS, params)
    conn.execute(_CLEAR_ROW_ATTEMPTS_OF_TASK_IDS, params)
    return {row[0] for row in conn.execute(_FAIL_TASKS, params).fetchall()}


def reopen_tasks(
    conn: sqlite3.Connection,
    job_id: str,
    statuses: Collection[TaskStatus],
    task_ids: Collection[str],
) -> int:
    """Reopen the selected tasks with fresh retries; return how many."""
    conn.execute(_CLEAR_REOPEN_SELECTION)
    params = {
        "job_id": job_id,
        "statuses": encode_json([status.value for status in statuses]),
        "task_ids": encode_json(list(task_ids)),
    }
    count = conn.execute(_SELECT_FOR_REOPEN, params).rowcount
    if count:
        # A row may hold its latest attempt (schema v2): archive it before the reset.
        conn.execute(_ARCHIVE_ROW_ATTEMPTS_OF_SELECTION, params)
        conn.execute(_CLEAR_ROW_ATTEMPTS_OF_SELECTION, params)
        conn.execute(_REOPEN_SELECTED, params)
        conn.execute(_RECOUNT_UNMET_DEPENDENCIES, params)
        conn.execute(_PEND_UNMET, params)
    conn.execute(_CLEAR_REOPEN_SELECTION)
    return count


def set_task_result(conn: sqlite3.Connection, job_id: str, task_id: str, result: Any) -> bool:
    """Replace one task's result; False when the job has no such task."""
    params = {"job_id": job_id, "task_id": task_id, "result": encode_json(result)}
    return conn.execute(_SET_TASK_RESULT, params).fetchone() is not None
