"""Job rows of the SQLite store: insert, read, acquire by a runner, heartbeat, status, usage.

Each function runs inside a transaction (or read) the caller opened. Every
job status change passes the state machine's gate (``transitions``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping

from taskfleet.errors import JobConflict, JobNotFound, LeaseLost
from taskfleet.model import (
    WORKER_RUNNER_PREFIX,
    Job,
    JobStatus,
    RunnerInfo,
    check_job_transition,
)
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.rows import acquire_params, encode_json, job_from_row, job_row
from taskfleet.store.common.transitions import allowed_job_sources, checked_job_sources

_QUERIES = load_queries("taskfleet.store.sqlite")
_INSERT_JOB = _QUERIES["insert_job"]
_SET_JOB_TOTAL = _QUERIES["set_job_total"]
_GET_JOB = _QUERIES["get_job"]
_JOB_EXISTS = _QUERIES["job_exists"]
_LIST_JOBS = _QUERIES["list_jobs"]
_LIST_JOBS_WITH_STATUS = _QUERIES["list_jobs_with_status"]
_COUNT_JOBS = _QUERIES["count_jobs"]
_COUNT_JOBS_WITH_STATUS = _QUERIES["count_jobs_with_status"]
_JOB_IDS_MATCHING = _QUERIES["job_ids_matching"]
_JOB_STATUS = _QUERIES["job_status"]
_ACQUIRE_JOB = _QUERIES["acquire_job"]
_OLDEST_WAITING_JOB = _QUERIES["oldest_waiting_job"]
_JOB_RUNNER_AND_STATUS = _QUERIES["job_runner_and_status"]
_RENEW_HEARTBEAT = _QUERIES["renew_heartbeat"]
_RELEASE_JOB = _QUERIES["release_job"]
_JOB_HELD_BY = _QUERIES["job_held_by"]
_SET_JOB_STATUS = _QUERIES["set_job_status"]
_SET_VALIDATION_ROUND = _QUERIES["set_validation_round"]
_JOB_USAGE = _QUERIES["job_usage"]
_SET_JOB_USAGE = _QUERIES["set_job_usage"]

# oldest_waiting_job's LIKE pattern: the runner ids of workers.
_WORKER_RUNNER_PATTERN = WORKER_RUNNER_PREFIX + "%"


def insert_job(conn: sqlite3.Connection, job: Job) -> None:
    """Insert the job's row; JobConflict if its id exists."""
    try:
        conn.execute(_INSERT_JOB, job_row(job))
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorcode != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
            raise
        raise JobConflict(f"job '{job.job_id}' exists already") from exc


def set_total(conn: sqlite3.Connection, job_id: str, total: int) -> None:
    """Record how many tasks the job has."""
    conn.execute(_SET_JOB_TOTAL, (total, job_id))


def select_job(conn: sqlite3.Connection, job_id: str) -> Job:
    """The job; raises JobNotFound."""
    row = conn.execute(_GET_JOB, (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    return job_from_row(row)


def require_job(conn: sqlite3.Connection, job_id: str) -> None:
    """Raise JobNotFound unless the job exists."""
    if conn.execute(_JOB_EXISTS, (job_id,)).fetchone() is None:
        raise JobNotFound(job_id)


def select_jobs(
    conn: sqlite3.Connection, status: JobStatus | None, limit: int, offset: int
) -> list[Job]:
    """Jobs (with that status), newest first."""
    if status is None:
        rows = conn.execute(_LIST_JOBS, (limit, offset)).fetchall()
    else:
        rows = conn.execute(_LIST_JOBS_WITH_STATUS, (status.value, limit, offset)).fetchall()
    return [job_from_row(row) for row in rows]


def count_jobs(conn: sqlite3.Connection, status: JobStatus | None) -> int:
    """How many jobs (with that status)."""
    if status is None:
        row = conn.execute(_COUNT_JOBS).fetchone()
    else:
        row = conn.execute(_COUNT_JOBS_WITH_STATUS, (status.value,)).fetchone()
    return int(row[0])


def job_ids_starting_with(conn: sqlite3.Connection, prefix: str, limit: int) -> list[str]:
    """Ids of the jobs whose id starts with ``prefix``, in id order, at most ``limit``."""
    rows = conn.execute(_JOB_IDS_MATCHING, (_glob_prefix(prefix), limit)).fetchall()
    return [str(row[0]) for row in rows]


def _glob_prefix(prefix: str) -> str:
    # GLOB, unlike LIKE, is case-sensitive as the ids are; its wildcards * ? [
    # are matched literally inside brackets.
    escaped = "".join(f"[{char}]" if char in "*?[" else char for char in prefix)
    return escaped + "*"


def oldest_waiting_job(conn: sqlite3.Connection) -> str | None:
    """The id of the job that waited longest for a worker, or None."""
    row = conn.execute(_OLDEST_WAITING_JOB, {"worker_prefix": _WORKER_RUNNER_PATTERN}).fetchone()
    return None if row is None else str(row[0])


def acquire(
    conn: sqlite3.Connection,
    job_id: str,
    runner: RunnerInfo,
    from_statuses: Collection[JobStatus],
) -> None:
    """Make ``runner`` the job's runner while its status is one of ``from_statuses``."""
    params = {
        **acquire_params(job_id, runner),
        "from_statuses": encode_json(checked_job_sources(from_statuses, JobStatus.RUNNING)),
    }
    if conn.execute(_ACQUIRE_JOB, params).rowcount == 1:
        return
    row = conn.execute(_JOB_STATUS, (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    allowed = ", ".join(sorted(status.value for status in from_statuses)) or "none"
    raise JobConflict(f"job '{job_id}' is {row[0]}; it can be taken only when {allowed}")


def renew_heartbeat(conn: sqlite3.Connection, job_id: str, runner_id: str, now: float) -> JobStatus:
    """Renew the runner's lease; LeaseLost if another runner holds the job."""
    row = conn.execute(_JOB_RUNNER_AND_STATUS, (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    if row[0] != runner_id:
        raise LeaseLost(f"job '{job_id}' is held by runner '{row[0]}', not '{runner_id}'")
    conn.execute(_RENEW_HEARTBEAT, (now, job_id))
    return JobStatus(row[1])


def release(
    conn: sqlite3.Connection,
    job_id: str,
    runner_id: str,
    status: JobStatus,
    now: float,
    error: str | None,
) -> bool:
    """Leave the job in ``status`` if ``runner_id`` holds it; whether it does.

    A change the table forbids (the job was cancelled meanwhile and the runner
    says completed) leaves the status as it is: the other change came first.
    """
    params = {
        "job_id": job_id,
        "runner_id": runner_id,
        "status": status.value,
        "finished_at": now if status.is_final else None,
        "error": error,
        "from_statuses": encode_json(allowed_job_sources(status)),
    }
    if conn.execute(_RELEASE_JOB, params).rowcount == 1:
        return True
    return conn.execute(_JOB_HELD_BY, params).fetchone() is not None


def set_status(
    conn: sqlite3.Connection, job_id: str, status: JobStatus, now: float, error: str | None
) -> None:
    """Set the job's status without a runner.

    JobNotFound if there is no such job; InvalidTransition, with nothing
    changed, if the table forbids the change (a cancel that arrives after the
    job completed), as the other stores do.
    """
    params = {
        "job_id": job_id,
        "status": status.value,
        "finished_at": now if status.is_final else None,
        "error": error,
        "from_statuses": encode_json(allowed_job_sources(status)),
    }
    if conn.execute(_SET_JOB_STATUS, params).rowcount == 0:
        # Only a missing job or a forbidden change update nothing: say which.
        row = conn.execute(_JOB_STATUS, (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        check_job_transition(JobStatus(row[0]), status)


def set_validation_round(conn: sqlite3.Connection, job_id: str, validation_round: int) -> None:
    """Remember how many validation rounds have run; JobNotFound if there is no such job."""
    if conn.execute(_SET_VALIDATION_ROUND, (validation_round, job_id)).rowcount == 0:
        raise JobNotFound(job_id)


def add_usage(conn: sqlite3.Connection, job_id: str, usage: Mapping[str, float]) -> None:
    """Add token and cost counts to the job's usage totals."""
    row = conn.execute(_JOB_USAGE, (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    totals: dict[str, float] = json.loads(row[0])
    for key, amount in usage.items():
        totals[key] = totals.get(key, 0.0) + amount
    conn.execute(_SET_JOB_USAGE, (encode_json(totals), job_id))
