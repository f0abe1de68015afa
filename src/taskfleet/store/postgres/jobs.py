"""Job rows of the PostgreSQL store: named queries on ``jobs`` and ``response_cache``.

``JobQueries`` wraps one connection inside a transaction the store opened;
the store decides what is one transaction, this module only what SQL runs.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from psycopg import sql

from taskfleet.errors import JobConflict, JobNotFound
from taskfleet.model import Job, JobStatus, RunnerInfo
from taskfleet.store.common.rows import (
    JOB_COLUMNS,
    WAITS_FOR_A_WORKER,
    acquire_params,
    encode_json,
    job_from_row,
    job_row,
)
from taskfleet.store.postgres.schema import Connection

_INSERT_JOB = f"""
INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({", ".join(["%s"] * len(JOB_COLUMNS.split(",")))})
ON CONFLICT (job_id) DO NOTHING RETURNING job_id
"""
_GET_JOB = f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = %s"
_LIST_JOBS = f"""
SELECT {JOB_COLUMNS} FROM jobs WHERE %(status)s::text IS NULL OR status = %(status)s::text
ORDER BY created_at DESC, job_id LIMIT %(limit)s OFFSET %(offset)s
"""
_COUNT_JOBS = (
    "SELECT count(*) FROM jobs WHERE %(status)s::text IS NULL OR status = %(status)s::text"
)
_ACQUIRE_JOB = """
UPDATE jobs SET status = 'running', runner_id = %(runner_id)s, runner_host = %(host)s,
    runner_pid = %(pid)s, runner_started_at = %(started_at)s, heartbeat_at = %(heartbeat_at)s,
    lease_s = %(lease_s)s, started_at = COALESCE(started_at, %(heartbeat_at)s),
    finished_at = NULL, error = NULL
WHERE job_id = %(job_id)s AND status = ANY(%(from_statuses)s::text[])
"""
# SKIP LOCKED: a job another worker is taking right now is passed over, not
# waited for, so many workers on many hosts never take the same job.
_LOCK_OLDEST_WAITING_JOB = f"""
SELECT job_id FROM jobs WHERE {WAITS_FOR_A_WORKER}
ORDER BY created_at, job_id LIMIT 1 FOR UPDATE SKIP LOCKED
"""
_LOCK_RUNNER = "SELECT runner_id, status FROM jobs WHERE job_id = %s FOR UPDATE"
_RELEASE_JOB = """
UPDATE jobs SET status = %(status)s, finished_at = %(finished_at)s, error = %(error)s
WHERE job_id = %(job_id)s AND runner_id = %(runner_id)s
"""
_LOCK_USAGE = "SELECT usage FROM jobs WHERE job_id = %s FOR UPDATE"
_GET_RESPONSE = "SELECT response FROM response_cache WHERE key = %s"
_PUT_RESPONSE = """
INSERT INTO response_cache (key, response, created_at) VALUES (%s, %s, %s)
ON CONFLICT (key) DO UPDATE SET response = EXCLUDED.response, created_at = EXCLUDED.created_at
"""
_UPDATABLE = frozenset({"status", "finished_at", "error", "heartbeat_at", "validation_round"})


class JobQueries:
    """The job queries, run on one connection inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def insert(self, job: Job) -> None:
        """Insert a new job row; JobConflict if the id exists."""
        cursor = await self.conn.execute(_INSERT_JOB, job_row(job))
        if await cursor.fetchone() is None:
            raise JobConflict(f"job '{job.job_id}' exists already")

    async def set_total(self, job_id: str, total: int) -> None:
        """Set how many tasks the job has."""
        await self.conn.execute("UPDATE jobs SET total = %s WHERE job_id = %s", (total, job_id))

    async def get(self, job_id: str) -> Job:
        """The job; raises JobNotFound."""
        cursor = await self.conn.execute(_GET_JOB, (job_id,))
        row = await cursor.fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return job_from_row(row)

    async def require(self, job_id: str) -> None:
        """Raise JobNotFound unless the job exists."""
        cursor = await self.conn.execute("SELECT 1 FROM jobs WHERE job_id = %s", (job_id,))
        if await cursor.fetchone() is None:
            raise JobNotFound(job_id)

    async def list(self, status: JobStatus | None, limit: int, offset: int) -> list[Job]:
        """Jobs, newest first."""
        params = {"status": status and status.value, "limit": limit, "offset": offset}
        cursor = await self.conn.execute(_LIST_JOBS, params)
        return [job_from_row(row) for row in await cursor.fetchall()]

    async def count(self, status: JobStatus | None) -> int:
        """How many jobs (with that status)."""
        cursor = await self.conn.execute(_COUNT_JOBS, {"status": status and status.value})
        row = await cursor.fetchone()
        return 0 if row is None else int(row[0])

    async def acquire(
        self, job_id: str, runner: RunnerInfo, from_statuses: Collection[JobStatus]
    ) -> None:
        """Make ``runner`` the job's runner if its status is in ``from_statuses``.

        A concurrent acquirer waits on the row lock and then finds the status
        changed: the UPDATE is a compare-and-set.
        """
        params = {
            **acquire_params(job_id, runner),
            "from_statuses": [status.value for status in from_statuses],
        }
        cursor = await self.conn.execute(_ACQUIRE_JOB, params)
        if cursor.rowcount == 1:
            return
        cursor = await self.conn.execute("SELECT status FROM jobs WHERE job_id = %s", (job_id,))
        row = await cursor.fetchone()
        if row is None:
            raise JobNotFound(job_id)
        allowed = ", ".join(sorted(status.value for status in from_statuses)) or "none"
        raise JobConflict(f"job '{job_id}' is {row[0]}; it can be taken only when {allowed}")

    async def lock_oldest_waiting(self) -> str | None:
        """The oldest job waiting for a worker no other transaction holds, locked until commit."""
        cursor = await self.conn.execute(_LOCK_OLDEST_WAITING_JOB)
        row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def lock_runner(self, job_id: str) -> tuple[str | None, JobStatus]:
        """The job's runner id and status, the row locked until commit."""
        cursor = await self.conn.execute(_LOCK_RUNNER, (job_id,))
        row = await cursor.fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return row[0], JobStatus(row[1])

    async def update(self, job_id: str, **values: Any) -> None:
        """Set some columns of the job; raises JobNotFound."""
        assert values and _UPDATABLE.issuperset(values), values
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name))
            for name in values
        )
        query = sql.SQL("UPDATE jobs SET {} WHERE job_id = {}").format(
            assignments, sql.Placeholder("job_id")
        )
        cursor = await self.conn.execute(query, {**values, "job_id": job_id})
        if cursor.rowcount == 0:
            raise JobNotFound(job_id)

    async def release(
        self,
        job_id: str,
        runner_id: str,
        status: JobStatus,
        finished_at: float | None,
        error: str | None,
    ) -> bool:
        """Set the job's status if ``runner_id`` still holds it; return whether it did."""
        params = {
            "job_id": job_id,
            "runner_id": runner_id,
            "status": status.value,
            "finished_at": finished_at,
            "error": error,
        }
        cursor = await self.conn.execute(_RELEASE_JOB, params)
        return cursor.rowcount > 0

    async def add_usage(self, job_id: str, usage: Mapping[str, float]) -> None:
        """Add token and cost counts to the job's ``usage`` totals."""
        cursor = await self.conn.execute(_LOCK_USAGE, (job_id,))
        row = await cursor.fetchone()
        if row is None:
            raise JobNotFound(job_id)
        totals: dict[str, float] = json.loads(row[0])
        for key, amount in usage.items():
            totals[key] = totals.get(key, 0.0) + amount
        await self.conn.execute(
            "UPDATE jobs SET usage = %s WHERE job_id = %s", (encode_json(totals), job_id)
        )

    async def cached_response(self, key: str) -> Any:
        """The response stored under ``key`` (any job), or None."""
        cursor = await self.conn.execute(_GET_RESPONSE, (key,))
        row = await cursor.fetchone()
        return None if row is None else json.loads(row[0])

    async def put_cached_response(self, key: str, response: Any, now: float) -> None:
        """Store ``response`` under ``key`` (the last one wins)."""
        await self.conn.execute(_PUT_RESPONSE, (key, encode_json(response), now))
