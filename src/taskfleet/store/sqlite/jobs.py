"""Job rows of the SQLite store: insert, acquire by a runner, heartbeat, usage totals.

Each function runs inside a transaction (or read) the caller opened.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping

from taskfleet.errors import JobConflict, JobNotFound, LeaseLost
from taskfleet.model import Job, JobStatus, RunnerInfo
from taskfleet.store.common.rows import (
    JOB_COLUMNS,
    WAITS_FOR_A_WORKER,
    acquire_params,
    encode_json,
    job_from_row,
    job_row,
)

_INSERT_JOB = (
    f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({', '.join('?' * len(JOB_COLUMNS.split(',')))})"
)
_ACQUIRE_JOB = """
UPDATE jobs SET status = 'running', runner_id = :runner_id, runner_host = :host,
    runner_pid = :pid, runner_started_at = :started_at, heartbeat_at = :heartbeat_at,
    lease_s = :lease_s, started_at = COALESCE(started_at, :heartbeat_at),
    finished_at = NULL, error = NULL
WHERE job_id = :job_id AND status IN (SELECT value FROM json_each(:from_statuses))
"""
OLDEST_WAITING_JOB = (
    f"SELECT job_id FROM jobs WHERE {WAITS_FOR_A_WORKER} ORDER BY created_at, job_id LIMIT 1"
)
RELEASE_JOB = """
UPDATE jobs SET status = :status, finished_at = :finished_at, error = :error
WHERE job_id = :job_id AND runner_id = :runner_id
"""


def insert_job(conn: sqlite3.Connection, job: Job) -> None:
    """Insert the job's row; JobConflict if its id exists."""
    try:
        conn.execute(_INSERT_JOB, job_row(job))
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorcode != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
            raise
        raise JobConflict(f"job '{job.job_id}' exists already") from exc


def select_job(conn: sqlite3.Connection, job_id: str) -> Job:
    """The job; raises JobNotFound."""
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    return job_from_row(row)


def select_jobs(
    conn: sqlite3.Connection, status: JobStatus | None, limit: int, offset: int
) -> list[Job]:
    """Jobs, newest first."""
    where, params = status_filter(status)
    rows = conn.execute(
        f"SELECT {JOB_COLUMNS} FROM jobs {where} ORDER BY created_at DESC, job_id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    ).fetchall()
    return [job_from_row(row) for row in rows]


def status_filter(status: JobStatus | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause and its parameters for an optional job status."""
    return ("", ()) if status is None else ("WHERE status = ?", (status.value,))


def acquire(
    conn: sqlite3.Connection,
    job_id: str,
    runner: RunnerInfo,
    from_statuses: Collection[JobStatus],
) -> None:
    """Make ``runner`` the job's runner while its status is one of ``from_statuses``."""
    params = {
        **acquire_params(job_id, runner),
        "from_statuses": encode_json([status.value for status in from_statuses]),
    }
    if conn.execute(_ACQUIRE_JOB, params).rowcount == 1:
        return
    row = conn.execute("SELECT status FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    allowed = ", ".join(sorted(status.value for status in from_statuses)) or "none"
    raise JobConflict(f"job '{job_id}' is {row[0]}; it can be taken only when {allowed}")


def renew_heartbeat(conn: sqlite3.Connection, job_id: str, runner_id: str, now: float) -> JobStatus:
    """Renew the runner's lease; LeaseLost if another runner holds the job."""
    row = conn.execute("SELECT runner_id, status FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    if row[0] != runner_id:
        raise LeaseLost(f"job '{job_id}' is held by runner '{row[0]}', not '{runner_id}'")
    conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE job_id = ?", (now, job_id))
    return JobStatus(row[1])


def update_job(conn: sqlite3.Connection, job_id: str, assignments: str, *values: object) -> None:
    """``UPDATE jobs SET <assignments>`` for one job; JobNotFound if there is none."""
    cursor = conn.execute(f"UPDATE jobs SET {assignments} WHERE job_id = ?", (*values, job_id))
    if cursor.rowcount == 0:
        raise JobNotFound(job_id)


def add_usage(conn: sqlite3.Connection, job_id: str, usage: Mapping[str, float]) -> None:
    """Add token and cost counts to the job's usage totals."""
    row = conn.execute("SELECT usage FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    totals: dict[str, float] = json.loads(row[0])
    for key, amount in usage.items():
        totals[key] = totals.get(key, 0.0) + amount
    conn.execute("UPDATE jobs SET usage = ? WHERE job_id = ?", (encode_json(totals), job_id))
