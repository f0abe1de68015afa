"""The embedded default store: one SQLite file in WAL mode.

Methods are ``async`` to fit the protocol but call sqlite3 directly: each is
a few short, batched statements, cheaper than a hop to a thread. Having no
``await`` inside, each method is also atomic with respect to the event loop,
so one connection is enough. Driver errors become ``StoreError`` here.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from taskfleet.errors import StoreError
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
from taskfleet.store.sqlite import files as sqlite_files
from taskfleet.store.sqlite import jobs as sqlite_jobs
from taskfleet.store.sqlite import reads as sqlite_reads
from taskfleet.store.sqlite import record as sqlite_record
from taskfleet.store.sqlite import tasks as sqlite_tasks
from taskfleet.store.sqlite.schema import connect, translate_errors

__all__ = ["SqliteStore"]


class SqliteStore:
    """The Store on one SQLite file (WAL mode, readable by other processes)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._claims = ClaimLedger()

    async def open(self) -> None:
        """Open the file, creating it and its directories, and migrate the schema."""
        if self._db is None:
            self._db = connect(self.path)

    async def close(self) -> None:
        """Disconnect; every write is committed already."""
        db, self._db = self._db, None
        if db is not None:
            with translate_errors():
                db.close()

    # -- plumbing -----------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        if self._db is None:
            raise StoreError("the SQLite store is not open: await store.open() first")
        with translate_errors():
            yield self._db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: a deferred transaction that
        # reads then writes can fail with SQLITE_BUSY despite busy_timeout.
        with self._reading() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # -- jobs ---------------------------------------------------------------

    async def create_job(self, job: Job, tasks: Iterable[TaskSpec]) -> Job:
        """Store the job and its tasks in one transaction; nothing if ``tasks`` raises."""
        with self._transaction() as conn:
            sqlite_jobs.insert_job(conn, job)
            total = sqlite_tasks.insert_tasks(conn, job.job_id, tasks)
            sqlite_jobs.set_total(conn, job.job_id, total)
        return await self.get_job(job.job_id)

    async def get_job(self, job_id: str) -> Job:
        """The job; raises JobNotFound."""
        with self._reading() as conn:
            return sqlite_jobs.select_job(conn, job_id)

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[Job]:
        """Jobs, newest first."""
        with self._reading() as conn:
            return sqlite_jobs.select_jobs(conn, status, limit, offset)

    async def count_jobs(self, *, status: JobStatus | None = None) -> int:
        """How many jobs (with that status)."""
        with self._reading() as conn:
            return sqlite_jobs.count_jobs(conn, status)

    async def job_ids_starting_with(self, prefix: str, *, limit: int) -> list[str]:
        """Ids of the jobs whose id starts with ``prefix``, in id order, at most ``limit``."""
        with self._reading() as conn:
            return sqlite_jobs.job_ids_starting_with(conn, prefix, limit)

    async def acquire_job(
        self, job_id: str, runner: RunnerInfo, from_statuses: Collection[JobStatus]
    ) -> Job:
        """Make ``runner`` the job's runner if its status is in ``from_statuses``."""
        with self._transaction() as conn:
            sqlite_jobs.acquire(conn, job_id, runner, from_statuses)
        return await self.get_job(job_id)

    async def claim_queued_job(self, runner: RunnerInfo) -> Job | None:
        """Acquire the oldest job waiting for a worker (queued, or its worker died), or None."""
        with self._transaction() as conn:
            job_id = sqlite_jobs.oldest_waiting_job(conn)
            if job_id is not None:
                sqlite_jobs.acquire(conn, job_id, runner, WORKER_CLAIMABLE_JOB_STATES)
        return None if job_id is None else await self.get_job(job_id)

    async def wait_for_queued_job(self, timeout_s: float) -> None:
        """Wait out ``timeout_s``: SQLite tells no one of another process's commit."""
        await asyncio.sleep(timeout_s)

    async def heartbeat(self, job_id: str, runner_id: str, now: float) -> JobStatus:
        """Renew the runner's lease and return the job's status; LeaseLost if taken over."""
        with self._transaction() as conn:
            return sqlite_jobs.renew_heartbeat(conn, job_id, runner_id, now)

    async def release_job(
        self,
        job_id: str,
        runner_id: str,
        status: JobStatus,
        now: float,
        *,
        error: str | None = None,
    ) -> bool:
        """Set the job's status and free the runner's tasks, if it still holds the job."""
        self._claims.release(job_id, runner_id)
        with self._transaction() as conn:
            if not sqlite_jobs.release(conn, job_id, runner_id, status, now, error):
                return False
            sqlite_tasks.release_leases(conn, job_id, runner_id, now)
        return True

    async def set_job_status(
        self, job_id: str, status: JobStatus, now: float, *, error: str | None = None
    ) -> None:
        """Set a job's status without a runner (e.g. cancel a queued job)."""
        with self._transaction() as conn:
            sqlite_jobs.set_status(conn, job_id, status, now, error)

    async def set_validation_round(self, job_id: str, validation_round: int) -> None:
        """Remember how many central validation rounds have run."""
        with self._transaction() as conn:
            sqlite_jobs.set_validation_round(conn, job_id, validation_round)

    async def add_usage(self, job_id: str, usage: Mapping[str, float]) -> None:
        """Add token and cost counts to the job's ``usage`` totals."""
        with self._transaction() as conn:
            sqlite_jobs.add_usage(conn, job_id, usage)

    async def get_cached_response(self, key: str) -> Any:
        """The response stored under ``key`` (any job), or None."""
        with self._reading() as conn:
            return sqlite_files.get_response(conn, key)

    async def put_cached_response(self, key: str, response: Any, now: float) -> None:
        """Store a JSON-serialisable ``response`` under ``key`` (the last one wins)."""
        with self._transaction() as conn:
            sqlite_files.put_response(conn, key, response, now)

    # -- tasks --------------------------------------------------------------

    async def claim_tasks(self, job_id: str, runner_id: str, limit: int) -> list[Task]:
        """Hand out up to ``limit`` startable tasks, highest priority then input order first."""
        if limit <= 0:
            return []
        held = self._claims.held(job_id)
        with self._reading() as conn:
            tasks = sqlite_reads.claim_window(conn, job_id, limit, held)
        for task in tasks:
            task.lease_owner = held[task.seq] = runner_id
        return tasks

    async def record_attempts(self, job_id: str, updates: Sequence[TaskUpdate]) -> list[str]:
        """Apply attempt starts and ends in one transaction; return newly skipped ids."""
        if not updates:
            return []
        with self._transaction() as conn:
            skipped = sqlite_record.record_updates(conn, job_id, updates, self._claims.held(job_id))
        self._claims.started(job_id, [update.seq for update in updates])
        return skipped

    async def cancel_open_tasks(self, job_id: str, now: float) -> int:
        """Cancel every ``pending`` or ``queued`` task; return how many."""
        with self._transaction() as conn:
            sqlite_jobs.require_job(conn, job_id)
            cancelled = sqlite_tasks.cancel_open_tasks(conn, job_id, now)
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
        with self._transaction() as conn:
            reopened = sqlite_tasks.reopen_tasks(conn, job_id, statuses, task_ids)
        self._claims.forget(job_id)
        return reopened

    async def fail_tasks(self, job_id: str, task_ids: Collection[str], error: str) -> list[str]:
        """Mark the given tasks ``failed``; return the ids that exist, in input order."""
        wanted = list(dict.fromkeys(task_ids))
        if not wanted:
            return []
        with self._transaction() as conn:
            marked = sqlite_tasks.fail_tasks(conn, job_id, wanted, error)
        return [task_id for task_id in wanted if task_id in marked]

    async def set_task_result(self, job_id: str, task_id: str, result: Any) -> None:
        """Replace a task's result, its status unchanged; raises TaskNotFound (or JobNotFound)."""
        with self._transaction() as conn:
            if sqlite_tasks.set_task_result(conn, job_id, task_id, result):
                return
        await self.get_task(job_id, task_id)  # raises the right NotFound

    async def release_leases(self, job_id: str, runner_id: str) -> None:
        """Give back every task leased by ``runner_id`` (``running`` ones to ``queued``)."""
        # The protocol passes no time: the interrupted attempts end "now".
        with self._transaction() as conn:
            sqlite_tasks.release_leases(conn, job_id, runner_id, time.time())
        self._claims.release(job_id, runner_id)

    async def count_tasks(self, job_id: str) -> StatusCounts:
        """Tasks per status."""
        with self._reading() as conn:
            return sqlite_reads.count_tasks(conn, job_id)

    async def get_task(self, job_id: str, task_id: str) -> Task:
        """One task; raises TaskNotFound (or JobNotFound)."""
        with self._reading() as conn:
            return sqlite_reads.get_task(conn, job_id, task_id)

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
        with self._reading() as conn:
            return sqlite_reads.list_tasks(conn, job_id, statuses, after_seq, limit, search)

    async def list_attempts(self, job_id: str, task_id: str) -> list[Attempt]:
        """Every recorded attempt of a task, oldest first."""
        with self._reading() as conn:
            task = sqlite_reads.get_task(conn, job_id, task_id)
            return sqlite_reads.list_attempts(conn, job_id, task)

    async def list_task_changes(
        self, job_id: str, *, after_change_seq: int = 0, limit: int = 1000
    ) -> list[TaskChange]:
        """The job's task state changes after ``after_change_seq``, oldest first."""
        with self._reading() as conn:
            return sqlite_reads.list_task_changes(conn, job_id, after_change_seq, limit)

    # -- files --------------------------------------------------------------

    async def create_file(self, file: StoredFile, content: bytes) -> None:
        """Store an uploaded file under its new id."""
        with self._transaction() as conn:
            sqlite_files.insert_file(conn, file, content)

    async def get_file(self, file_id: str) -> StoredFile:
        """A file's description; raises FileNotFound."""
        with self._reading() as conn:
            return sqlite_files.select_file(conn, file_id)

    async def read_file(self, file_id: str) -> bytes:
        """A file's content; raises FileNotFound."""
        with self._reading() as conn:
            return sqlite_files.select_content(conn, file_id)

    async def list_files(self, *, purpose: str | None = None, limit: int = 100) -> list[StoredFile]:
        """Files, newest first (with that purpose)."""
        with self._reading() as conn:
            return sqlite_files.select_files(conn, purpose, limit)
