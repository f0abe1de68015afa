"""Job rows of the PostgreSQL store: the queries on ``jobs`` and ``response_cache``.

``JobQueries`` wraps one connection inside a transaction the store opened;
the store decides what is one transaction, this module only what SQL runs.
Every status change passes its (from, to) pairs through the model's gate
(``transitions``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from taskfleet.errors import JobConflict, JobNotFound
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
from taskfleet.store.postgres.schema import Connection

_QUERIES = load_queries("taskfleet.store.postgres")
_INSERT_JOB = _QUERIES["insert_job"]
_SET_JOB_TOTAL = _QUERIES["set_job_total"]
_GET_JOB = _QUERIES["get_job"]
_JOB_EXISTS = _QUERIES["job_exists"]
_JOB_STATUS = _QUERIES["job_status"]
_LIST_JOBS = _QUERIES["list_jobs"]
_COUNT_JOBS = _QUERIES["count_jobs"]
_JOB_IDS_MATCHING = _QUERIES["job_ids_matching"]
_ACQUIRE_JOB = _QUERIES["acquire_job"]
_LOCK_OLDEST_WAITING_JOB = _QUERIES["lock_oldest_waiting_job"]
_LOCK_JOB_RUNNER = _QUERIES["lock_job_runner"]
_RENEW_HEARTBEAT = _QUERIES["renew_heartbeat"]
_RELEASE_JOB = _QUERIES["release_job"]
_SET_JOB_STATUS = _QUERIES["set_job_status"]
_SET_VALIDATION_ROUND = _QUERIES["set_validation_round"]
_LOCK_JOB_USAGE = _QUERIES["lock_job_usage"]
_SET_JOB_USAGE = _QUERIES["set_job_usage"]
_GET_CACHED_RESPONSE = _QUERIES["get_cached_response"]
_PUT_CACHED_RESPONSE = _QUERIES["put_cached_response"]


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
        await self.conn.execute(_SET_JOB_TOTAL, (total, job_id))

    async def get(self, job_id: str) -> Job:
        """The job; raises JobNotFound."""
        cursor = await self.conn.execute(_GET_JOB, (job_id,))
        row = await cursor.fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return job_from_row(row)

    async def require(self, job_id: str) -> None:
        """Raise JobNotFound unless the job exists."""
        cursor = await self.conn.execute(_JOB_EXISTS, (job_id,))
        if await cursor.fetchone() is None:
            raise JobNotFound(job_id)

    async def status(self, job_id: str) -> JobStatus:
        """The job's status; raises JobNotFound."""
        cursor = await self.conn.execute(_JOB_STATUS, (job_id,))
        row = await cursor.fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return JobStatus(row[0])

    async def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        """Ids of the jobs whose id starts with ``prefix``, in id order, at most ``limit``."""
        pattern = _like_escape(prefix) + "%"
        cursor = await self.conn.execute(_JOB_IDS_MATCHING, {"pattern": pattern, "limit": limit})
        return [str(row[0]) for row in await cursor.fetchall()]

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
            "status": JobStatus.RUNNING.value,
            "from_statuses": checked_job_sources(from_statuses, JobStatus.RUNNING),
        }
        cursor = await self.conn.execute(_ACQUIRE_JOB, params)
        if cursor.rowcount == 1:
            return
        status = await self.status(job_id)
        allowed = ", ".join(sorted(status.value for status in from_statuses)) or "none"
        raise JobConflict(f"job '{job_id}' is {status.value}; it can be taken only when {allowed}")

    async def lock_oldest_waiting(self) -> str | None:
        """The oldest job waiting for a worker no other transaction holds, locked until commit."""
        params = {"worker_prefix": WORKER_RUNNER_PREFIX}
        cursor = await self.conn.execute(_LOCK_OLDEST_WAITING_JOB, params)
        row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def lock_runner(self, job_id: str) -> tuple[str | None, JobStatus]:
        """The job's runner id and status, the row locked until commit."""
        cursor = await self.conn.execute(_LOCK_JOB_RUNNER, (job_id,))
        row = await cursor.fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return row[0], JobStatus(row[1])

    async def renew_heartbeat(self, job_id: str, now: float) -> None:
        """The runner is alive at ``now``."""
        await self.conn.execute(_RENEW_HEARTBEAT, (now, job_id))

    async def release(
        self,
        job_id: str,
        runner_id: str,
        status: JobStatus,
        finished_at: float | None,
        error: str | None,
    ) -> bool:
        """Set the job's status if ``runner_id`` still holds it; return whether it does.

        A job moved meanwhile to a state that may not become ``status`` (cancelled
        from elsewhere) keeps it; the runner still holds the job (True).
        """
        params = {
            "job_id": job_id,
            "runner_id": runner_id,
            "status": status.value,
            "from_statuses": allowed_job_sources(status),
            "finished_at": finished_at,
            "error": error,
        }
        cursor = await self.conn.execute(_RELEASE_JOB, params)
        return cursor.rowcount > 0

    async def set_status(
        self, job_id: str, status: JobStatus, finished_at: float | None, error: str | None
    ) -> None:
        """Set the job's status; JobNotFound, or InvalidTransition if the table forbids it."""
        params = {
            "job_id": job_id,
            "status": status.value,
            "from_statuses": allowed_job_sources(status),
            "finished_at": finished_at,
            "error": error,
        }
        cursor = await self.conn.execute(_SET_JOB_STATUS, params)
        if cursor.rowcount == 0:
            # Only a missing job or a forbidden change update nothing: say which.
            check_job_transition(await self.status(job_id), status)

    async def set_validation_round(self, job_id: str, validation_round: int) -> None:
        """Remember how many central validation rounds have run; raises JobNotFound."""
        cursor = await self.conn.execute(_SET_VALIDATION_ROUND, (validation_round, job_id))
        if cursor.rowcount == 0:
            raise JobNotFound(job_id)

    async def add_usage(self, job_id: str, usage: Mapping[str, float]) -> None:
        """Add token and cost counts to the job's ``usage`` totals."""
        cursor = await self.conn.execute(_LOCK_JOB_USAGE, (job_id,))
        row = await cursor.fetchone()
        if row is None:
            raise JobNotFound(job_id)
        totals: dict[str, float] = json.loads(row[0])
        for key, amount in usage.items():
            totals[key] = totals.get(key, 0.0) + amount
        await self.conn.execute(_SET_JOB_USAGE, (encode_json(totals), job_id))

    async def cached_response(self, key: str) -> Any:
        """The response stored under ``key`` (any job), or None."""
        cursor = await self.conn.execute(_GET_CACHED_RESPONSE, (key,))
        row = await cursor.fetchone()
        return None if row is None else json.loads(row[0])

    async def put_cached_response(self, key: str, response: Any, now: float) -> None:
        """Store ``response`` under ``key`` (the last one wins)."""
        await self.conn.execute(_PUT_CACHED_RESPONSE, (key, encode_json(response), now))


def _like_escape(text: str) -> str:
    """``text`` with LIKE's wildcards (and the escape character itself) matched literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
