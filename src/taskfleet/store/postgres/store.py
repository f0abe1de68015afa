"""The shared store: PostgreSQL, for many workers on many hosts.

One psycopg ``AsyncConnection`` per store, in autocommit mode; every public
method is one explicit transaction. An ``asyncio.Lock`` serialises them:
the engine calls the store from several coroutines (runner, heartbeat,
claims), and two transactions on one connection would nest instead of
running side by side. Across processes PostgreSQL does the coordinating:
``FOR UPDATE SKIP LOCKED`` hands each queued job to one worker, row locks
make ``acquire_job`` a compare-and-set, an advisory lock per job orders
the writers of its tasks (``tasks.lock_job_tasks``), and LISTEN/NOTIFY
wakes idle workers when a job is queued (``listen``). The SQL is in
``queries.sql``; every status change passes the model's transition gate
(``transitions``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from taskfleet.errors import (
    LeaseLost,
    StoreError,
    TaskNotFound,
)
from taskfleet.model import (
    WORKER_CLAIMABLE_JOB_STATES,
    Attempt,
    Job,
    JobStatus,
    RunnerInfo,
    StatusCounts,
    StoredFile,
    Task,
    TaskChange,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
)
from taskfleet.store.common.claims import ClaimLedger
from taskfleet.store.common.rows import task_from_row
from taskfleet.store.postgres import files as postgres_files
from taskfleet.store.postgres import reads as postgres_reads
from taskfleet.store.postgres import record as postgres_record
from taskfleet.store.postgres import tasks as postgres_tasks
from taskfleet.store.postgres.jobs import JobQueries
from taskfleet.store.postgres.listen import QueuedJobListener
from taskfleet.store.postgres.schema import Connection, connect, redact, translate_errors

__all__ = ["PostgresStore"]

_ANALYZE_AFTER_TASKS = 10_000


class PostgresStore:
    """The Store on a PostgreSQL database, shared by any number of processes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()
        self._claims = ClaimLedger()
        self._listener: QueuedJobListener | None = None  # started by the first idle worker

    async def open(self) -> None:
        """Connect and create or migrate the schema."""
        async with self._lock:
            if self._conn is None:
                self._conn = await connect(self.url)

    async def close(self) -> None:
        """Disconnect; every write is committed already."""
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with translate_errors():
                    await conn.close()

    # -- plumbing -----------------------------------------------------------

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        async with self._lock:
            if self._conn is None:
                raise StoreError("the PostgreSQL store is not open: await store.open() first")
            if self._conn.broken:
                # The server restarted or the network dropped: start afresh.
                with contextlib.suppress(Exception):
                    await self._conn.close()
                self._conn = await connect(self.url)
            conn = self._conn
            with translate_errors():
                async with conn.transaction():
                    yield conn

    def _jobs(self, conn: Connection) -> JobQueries:
        return JobQueries(conn)

    # -- jobs ---------------------------------------------------------------

    async def create_job(self, job: Job, tasks: Iterable[TaskSpec]) -> Job:
        """Store the job and its tasks in one transaction; nothing if ``tasks`` raises."""
        async with self._transaction() as conn:
            queries = self._jobs(conn)
            await queries.insert(job)
            total = await postgres_tasks.insert_tasks(conn, job.job_id, tasks)
            await queries.set_total(job.job_id, total)
            created = await queries.get(job.job_id)
        if total >= _ANALYZE_AFTER_TASKS:
            # Statistics that know the new job's size make the planner read its
            # tasks by key in every group commit, not scan them all each time;
            # autovacuum would learn it only much later. The job is stored
            # already: a failure here costs speed, not correctness.
            with contextlib.suppress(StoreError):
                async with self._transaction() as conn:
                    await conn.execute(postgres_tasks.ANALYZE_TASKS)
        return created

    async def get_job(self, job_id: str) -> Job:
        """The job; raises JobNotFound."""
        async with self._transaction() as conn:
            return await self._jobs(conn).get(job_id)

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[Job]:
        """Jobs, newest first."""
        async with self._transaction() as conn:
            return await self._jobs(conn).list(status, limit, offset)

    async def count_jobs(self, *, status: JobStatus | None = None) -> int:
        """How many jobs (with that status)."""
        async with self._transaction() as conn:
            return await self._jobs(conn).count(status)

    async def job_ids_starting_with(self, prefix: str, *, limit: int) -> list[str]:
        """Ids of the jobs whose id starts with ``prefix``, in id order, at most ``limit``."""
        async with self._transaction() as conn:
            return await self._jobs(conn).ids_starting_with(prefix, limit)

    async def acquire_job(
        self, job_id: str, runner: RunnerInfo, from_statuses: Collection[JobStatus]
    ) -> Job:
        """Make ``runner`` the job's runner if its status is in ``from_statuses``."""
        async with self._transaction() as conn:
            queries = self._jobs(conn)
            await queries.acquire(job_id, runner, from_statuses)
            return await queries.get(job_id)

    async def claim_queued_job(self, runner: RunnerInfo) -> Job | None:
        """Acquire the oldest job waiting for a worker that no other worker is taking, or None."""
        async with self._transaction() as conn:
            queries = self._jobs(conn)
            job_id = await queries.lock_oldest_waiting()
            if job_id is None:
                return None
            await queries.acquire(job_id, runner, WORKER_CLAIMABLE_JOB_STATES)
            return await queries.get(job_id)

    async def wait_for_queued_job(self, timeout_s: float) -> None:
        """Return when a job was queued (any host, through LISTEN), or after ``timeout_s``."""
        if self._listener is None:
            self._listener = QueuedJobListener(self.url)
        await self._listener.wait(timeout_s)

    async def heartbeat(self, job_id: str, runner_id: str, now: float) -> JobStatus:
        """Renew the runner's lease and return the job's status; LeaseLost if taken over."""
        async with self._transaction() as conn:
            holder, status = await self._jobs(conn).lock_runner(job_id)
            if holder != runner_id:
                raise LeaseLost(f"job '{job_id}' is held by runner '{holder}', not '{runner_id}'")
            await self._jobs(conn).renew_heartbeat(job_id, now)
        return status

    async def release_job(
        self,
        job_id: str,
        runner_id: str,
        status: JobStatus,
        now: float,
        *,
        error: str | None = None,
    ) -> bool:
        """Set the job's status and free the runner's tasks, if it still holds the job.

        A job moved meanwhile to a state the table does not let it leave for
        ``status`` (cancelled from elsewhere) keeps that state; the tasks are freed.
        """
        self._claims.release(job_id, runner_id)
        async with self._transaction() as conn:
            await postgres_tasks.lock_job_tasks(conn, job_id)
            finished_at = now if status.is_final else None
            if not await self._jobs(conn).release(job_id, runner_id, status, finished_at, error):
                return False
            await postgres_tasks.release_leases(conn, job_id, runner_id, now)
        return True

    async def set_job_status(
        self, job_id: str, status: JobStatus, now: float, *, error: str | None = None
    ) -> None:
        """Set a job's status without a runner (e.g. cancel a queued job).

        Raises JobNotFound, or InvalidTransition (nothing changed) if the
        transition table does not let the job's state become ``status``.
        """
        finished_at = now if status.is_final else None
        async with self._transaction() as conn:
            await self._jobs(conn).set_status(job_id, status, finished_at, error)

    async def set_validation_round(self, job_id: str, validation_round: int) -> None:
        """Remember how many central validation rounds have run."""
        async with self._transaction() as conn:
            await self._jobs(conn).set_validation_round(job_id, validation_round)

    async def add_usage(self, job_id: str, usage: Mapping[str, float]) -> None:
        """Add token and cost counts to the job's ``usage`` totals."""
        async with self._transaction() as conn:
            await self._jobs(conn).add_usage(job_id, usage)

    async def get_cached_response(self, key: str) -> Any:
        """The response stored under ``key`` (any job), or None."""
        async with self._transaction() as conn:
            return await self._jobs(conn).cached_response(key)

    async def put_cached_response(self, key: str, response: Any, now: float) -> None:
        """Store a JSON-serialisable ``response`` under ``key`` (the last one wins)."""
        async with self._transaction() as conn:
            await self._jobs(conn).put_cached_response(key, response, now)

    # -- tasks --------------------------------------------------------------

    async def claim_tasks(self, job_id: str, runner_id: str, limit: int) -> list[Task]:
        """Hand out up to ``limit`` startable tasks, highest priority then input order first."""
        if limit <= 0:
            return []
        async with self._transaction() as conn:
            # Under the lock: no other claim of this process reads ``held`` meanwhile.
            held = self._claims.held(job_id)
            rows = await postgres_reads.claim_window(conn, job_id, limit + len(held))
            spec_cache: dict[str, Any] = {}
            tasks: list[Task] = []
            for row in rows:
                if row[1] in held:
                    continue
                task = task_from_row(row, spec_cache)
                task.lease_owner = held[task.seq] = runner_id
                tasks.append(task)
                if len(tasks) == limit:
                    break
        return tasks

    async def record_attempts(self, job_id: str, updates: Sequence[TaskUpdate]) -> list[str]:
        """Apply attempt starts and ends in one transaction; return newly skipped ids."""
        if not updates:
            return []
        async with self._transaction() as conn:
            await postgres_tasks.lock_job_tasks(conn, job_id)
            held = self._claims.held(job_id)
            skipped = await postgres_record.record_updates(conn, job_id, updates, held)
        # After the commit (no await in between): a failed batch keeps its claims.
        self._claims.started(job_id, [update.seq for update in updates])
        return skipped

    async def cancel_open_tasks(self, job_id: str, now: float) -> int:
        """Cancel every ``pending`` or ``queued`` task; return how many."""
        async with self._transaction() as conn:
            await self._jobs(conn).require(job_id)
            await postgres_tasks.lock_job_tasks(conn, job_id)
            cancelled = await postgres_tasks.cancel_open_tasks(conn, job_id, now)
        self._claims.forget(job_id)
        return cancelled

    async def reopen_tasks(
        self,
        job_id: str,
        *,
        statuses: Collection[TaskStatus] = (),
        task_ids: Collection[str] = (),
    ) -> int:
        """Make the selected tasks run again with fresh retries; return how many."""
        if not statuses and not task_ids:
            return 0
        async with self._transaction() as conn:
            await postgres_tasks.lock_job_tasks(conn, job_id)
            reopened = await postgres_tasks.reopen_tasks(conn, job_id, statuses, task_ids)
        self._claims.forget(job_id)
        return reopened

    async def fail_tasks(self, job_id: str, task_ids: Collection[str], error: str) -> list[str]:
        """Mark the given tasks ``failed``; return the ids that exist, in input order."""
        wanted = list(dict.fromkeys(task_ids))
        if not wanted:
            return []
        async with self._transaction() as conn:
            await postgres_tasks.lock_job_tasks(conn, job_id)
            marked = await postgres_tasks.fail_tasks(conn, job_id, wanted, error)
        return [task_id for task_id in wanted if task_id in marked]

    async def set_task_result(self, job_id: str, task_id: str, result: Any) -> None:
        """Replace a task's result, its status unchanged; raises TaskNotFound (or JobNotFound)."""
        async with self._transaction() as conn:
            if not await postgres_tasks.set_task_result(conn, job_id, task_id, result):
                await self._get_task(conn, job_id, task_id)  # raises the right NotFound

    async def release_leases(self, job_id: str, runner_id: str) -> None:
        """Give back every task leased by ``runner_id`` (``running`` ones to ``queued``)."""
        # The protocol passes no time: the interrupted attempts end "now".
        async with self._transaction() as conn:
            await postgres_tasks.lock_job_tasks(conn, job_id)
            await postgres_tasks.release_leases(conn, job_id, runner_id, time.time())
        self._claims.release(job_id, runner_id)

    async def count_tasks(self, job_id: str) -> StatusCounts:
        """Tasks per status."""
        async with self._transaction() as conn:
            await self._jobs(conn).require(job_id)
            return await postgres_reads.count_tasks(conn, job_id)

    async def get_task(self, job_id: str, task_id: str) -> Task:
        """One task; raises TaskNotFound (or JobNotFound)."""
        async with self._transaction() as conn:
            return await self._get_task(conn, job_id, task_id)

    async def _get_task(self, conn: Connection, job_id: str, task_id: str) -> Task:
        task = await postgres_reads.select_task(conn, job_id, task_id)
        if task is None:
            await self._jobs(conn).require(job_id)
            raise TaskNotFound(job_id, task_id)
        return task

    async def list_tasks(
        self,
        job_id: str,
        *,
        statuses: Collection[TaskStatus] | None = None,
        after_seq: int = 0,
        limit: int = 1000,
        search: str | None = None,
    ) -> list[Task]:
        """Tasks in input order with ``seq > after_seq``; ``search`` matches inside ids."""
        async with self._transaction() as conn:
            await self._jobs(conn).require(job_id)
            return await postgres_reads.select_tasks(
                conn, job_id, statuses, after_seq, limit, search
            )

    async def list_attempts(self, job_id: str, task_id: str) -> list[Attempt]:
        """Every recorded attempt of a task, oldest first."""
        async with self._transaction() as conn:
            task = await self._get_task(conn, job_id, task_id)
            return await postgres_reads.select_attempts(conn, job_id, task)

    async def list_task_changes(
        self, job_id: str, *, after_change_seq: int = 0, limit: int = 1000
    ) -> list[TaskChange]:
        """The job's task state changes after ``after_change_seq``, oldest first."""
        async with self._transaction() as conn:
            await self._jobs(conn).require(job_id)
            return await postgres_reads.select_task_changes(conn, job_id, after_change_seq, limit)

    # -- files --------------------------------------------------------------

    async def create_file(self, file: StoredFile, content: bytes) -> None:
        """Store an uploaded file under its new id (StoreError if the id exists)."""
        async with self._transaction() as conn:
            await postgres_files.insert_file(conn, file, content)

    async def get_file(self, file_id: str) -> StoredFile:
        """A file's description; raises FileNotFound."""
        async with self._transaction() as conn:
            return await postgres_files.select_file(conn, file_id)

    async def read_file(self, file_id: str) -> bytes:
        """A file's content; raises FileNotFound."""
        async with self._transaction() as conn:
            return await postgres_files.select_content(conn, file_id)

    async def list_files(self, *, purpose: str | None = None, limit: int = 100) -> list[StoredFile]:
        """Files, newest first (with that purpose)."""
        async with self._transaction() as conn:
            return await postgres_files.select_files(conn, purpose, limit)

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r})"
