"""An in-memory store for fast unit tests of the engine.

Plain dicts and lists, no I/O. It passes the same contract suite as the SQLite
store; to behave the same, task specs and results go through JSON on the way
in (as a database would store them) and every read returns a fresh copy.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from taskfleet.errors import (
    JobConflict,
    JobNotFound,
    LeaseLost,
    StoreError,
    TaskNotFound,
)
from taskfleet.model import (
    WORKER_CLAIMABLE_JOB_STATES,
    Attempt,
    Job,
    JobOptions,
    JobStatus,
    RunnerInfo,
    StatusCounts,
    StoredFile,
    Task,
    TaskChange,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
    check_job_transition,
)
from taskfleet.store.common.claims import ClaimLedger
from taskfleet.store.memory.files import FileShelf
from taskfleet.store.memory.graph import JobTasks, link_dependencies
from taskfleet.store.memory.tasks import (
    apply_update,
    copy_task,
    fail_tasks,
    interrupt_attempts,
    json_copy,
    new_task,
    reopen_tasks,
)

__all__ = ["MemoryStore"]

_OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.QUEUED)


def _waits_for_a_worker(job: Job) -> bool:
    if job.status is JobStatus.QUEUED:
        return True
    return job.status is JobStatus.INTERRUPTED and job.runner is not None and job.runner.is_worker


class MemoryStore:
    """The Store in plain dicts: for unit tests, gone when the process ends."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, JobTasks] = {}
        self._claims = ClaimLedger()
        self._change_counter = itertools.count(1)
        self._files = FileShelf()  # uploaded files and the llm response cache
        self._job_queued = asyncio.Event()

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to flush; the data stays until the object is dropped."""

    def _job(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobNotFound(job_id) from None

    def _job_tasks(self, job_id: str) -> JobTasks:
        self._job(job_id)
        return self._tasks[job_id]

    def _change_job(self, job: Job, status: JobStatus, **fields: Any) -> Job:
        """Store ``job`` with a new status (and fields): the one way a job's status changes."""
        check_job_transition(job.status, status)
        changed = self._jobs[job.job_id] = replace(job, status=status, **fields)
        if status is JobStatus.QUEUED:
            self._job_queued.set()
        return changed

    # -- jobs ---------------------------------------------------------------

    async def create_job(self, job: Job, tasks: Iterable[TaskSpec]) -> Job:
        """Store the job and its tasks at once; nothing if ``tasks`` raises."""
        if job.job_id in self._jobs:
            raise JobConflict(f"job '{job.job_id}' exists already")
        job_tasks = JobTasks(change_counter=self._change_counter)
        edges: list[tuple[int, str]] = []
        for spec in tasks:
            if spec.seq in job_tasks.by_seq or spec.id in job_tasks.seq_of:
                # What the SQLite store's unique indexes report.
                raise StoreError(f"task '{spec.id}' (seq {spec.seq}) is not unique in the job")
            depends_on = tuple(dict.fromkeys(spec.depends_on))
            job_tasks.by_seq[spec.seq] = new_task(job.job_id, spec, depends_on)
            job_tasks.seq_of[spec.id] = spec.seq
            job_tasks.unmet[spec.seq] = len(depends_on)
            edges.extend((spec.seq, dep) for dep in depends_on)
        link_dependencies(job.job_id, job_tasks, edges)
        options = JobOptions.from_dict(json_copy(job.options.to_dict()))
        stored = replace(job, options=options, total=len(job_tasks.by_seq), usage=dict(job.usage))
        self._jobs[job.job_id] = stored
        self._tasks[job.job_id] = job_tasks
        if stored.status is JobStatus.QUEUED:
            self._job_queued.set()
        return stored

    async def get_job(self, job_id: str) -> Job:
        """The job; raises JobNotFound."""
        return self._job(job_id)

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[Job]:
        """Jobs, newest first."""
        jobs = [job for job in self._jobs.values() if status is None or job.status is status]
        jobs.sort(key=lambda job: (-job.created_at, job.job_id))
        return jobs[offset : offset + limit]

    async def count_jobs(self, *, status: JobStatus | None = None) -> int:
        """How many jobs (with that status)."""
        return sum(1 for job in self._jobs.values() if status is None or job.status is status)

    async def job_ids_starting_with(self, prefix: str, *, limit: int) -> list[str]:
        """Ids of the jobs whose id starts with ``prefix``, in id order, at most ``limit``."""
        return sorted(job_id for job_id in self._jobs if job_id.startswith(prefix))[:limit]

    async def acquire_job(
        self, job_id: str, runner: RunnerInfo, from_statuses: Collection[JobStatus]
    ) -> Job:
        """Make ``runner`` the job's runner if its status is in ``from_statuses``."""
        job = self._job(job_id)
        if job.status not in from_statuses:
            allowed = ", ".join(sorted(status.value for status in from_statuses)) or "none"
            raise JobConflict(
                f"job '{job_id}' is {job.status.value}; it can be taken only when {allowed}"
            )
        started_at = runner.heartbeat_at if job.started_at is None else job.started_at
        fields = {"runner": runner, "started_at": started_at, "finished_at": None, "error": None}
        return self._change_job(job, JobStatus.RUNNING, **fields)

    async def claim_queued_job(self, runner: RunnerInfo) -> Job | None:
        """Acquire the oldest job waiting for a worker (queued, or its worker died), or None."""
        waiting = [job for job in self._jobs.values() if _waits_for_a_worker(job)]
        if not waiting:
            return None
        oldest = min(waiting, key=lambda job: (job.created_at, job.job_id))
        return await self.acquire_job(oldest.job_id, runner, WORKER_CLAIMABLE_JOB_STATES)

    async def wait_for_queued_job(self, timeout_s: float) -> None:
        """Return when a job became queued since the last return, or after ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._job_queued.wait(), timeout_s)
        self._job_queued.clear()

    async def heartbeat(self, job_id: str, runner_id: str, now: float) -> JobStatus:
        """Renew the runner's lease and return the job's status; LeaseLost if taken over."""
        job = self._job(job_id)
        if job.runner is None or job.runner.runner_id != runner_id:
            holder = job.runner.runner_id if job.runner else None
            raise LeaseLost(f"job '{job_id}' is held by runner '{holder}', not '{runner_id}'")
        self._jobs[job_id] = replace(job, runner=replace(job.runner, heartbeat_at=now))
        return job.status

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
        job = self._jobs.get(job_id)
        if job is None or job.runner is None or job.runner.runner_id != runner_id:
            self._claims.release(job_id, runner_id)
            return False
        if job.status is JobStatus.CANCELLED:
            status = JobStatus.CANCELLED  # cancelled while its runner ended: the cancel stands
        finished_at = now if status.is_final else None
        self._change_job(job, status, finished_at=finished_at, error=error)
        self._release(job_id, runner_id, now)
        return True

    async def set_job_status(
        self, job_id: str, status: JobStatus, now: float, *, error: str | None = None
    ) -> None:
        """Set a job's status without a runner (e.g. cancel a queued job)."""
        finished_at = now if status.is_final else None
        self._change_job(self._job(job_id), status, finished_at=finished_at, error=error)

    async def set_validation_round(self, job_id: str, validation_round: int) -> None:
        """Remember how many central validation rounds have run."""
        self._jobs[job_id] = replace(self._job(job_id), validation_round=validation_round)

    async def add_usage(self, job_id: str, usage: Mapping[str, float]) -> None:
        """Add token and cost counts to the job's ``usage`` totals."""
        job = self._job(job_id)
        totals = dict(job.usage)
        for key, amount in usage.items():
            totals[key] = totals.get(key, 0.0) + amount
        self._jobs[job_id] = replace(job, usage=totals)

    async def get_cached_response(self, key: str) -> Any:
        """The response stored under ``key`` (any job), or None."""
        return self._files.get_response(key)

    async def put_cached_response(self, key: str, response: Any, now: float) -> None:
        """Store a JSON-serialisable ``response`` under ``key`` (the last one wins)."""
        self._files.put_response(key, response)

    # -- tasks --------------------------------------------------------------

    async def claim_tasks(self, job_id: str, runner_id: str, limit: int) -> list[Task]:
        """Hand out up to ``limit`` startable tasks, highest priority then input order first."""
        job_tasks = self._tasks.get(job_id)
        if job_tasks is None or limit <= 0:
            return []
        held = self._claims.held(job_id)
        claimed = [copy_task(task) for task in job_tasks.startable(held)[:limit]]
        for task in claimed:
            task.lease_owner = held[task.seq] = runner_id
        return claimed

    async def record_attempts(self, job_id: str, updates: Sequence[TaskUpdate]) -> list[str]:
        """Apply attempt starts and ends in order; return newly skipped ids."""
        job_tasks = self._tasks.get(job_id)
        if job_tasks is None:
            return []
        claimed = self._claims.held(job_id)
        skipped: list[str] = []
        for update in updates:
            task = job_tasks.by_seq.get(update.seq)
            if task is None:
                continue
            skipped += apply_update(job_tasks, task, update, claimed.get(task.seq))
        self._claims.started(job_id, [update.seq for update in updates])
        return skipped

    async def cancel_open_tasks(self, job_id: str, now: float) -> int:
        """Cancel every ``pending`` or ``queued`` task; return how many."""
        count = 0
        job_tasks = self._job_tasks(job_id)
        for task in job_tasks.by_seq.values():
            if task.status in _OPEN_STATUSES:
                task.finished_at, task.error, task.lease_owner = now, "cancelled", None
                job_tasks.set_status(task, TaskStatus.CANCELLED)
                count += 1
        self._claims.forget(job_id)
        return count

    async def reopen_tasks(
        self,
        job_id: str,
        *,
        statuses: Collection[TaskStatus] = (),
        task_ids: Collection[str] = (),
    ) -> int:
        """Make the selected tasks run again with fresh retries; return how many."""
        job_tasks = self._tasks.get(job_id)
        if job_tasks is None:
            return 0
        ids = set(task_ids)
        selected = [
            task for task in job_tasks.in_order() if task.status in statuses or task.id in ids
        ]
        reopen_tasks(job_tasks, selected)
        self._claims.forget(job_id)
        return len(selected)

    async def fail_tasks(self, job_id: str, task_ids: Collection[str], error: str) -> list[str]:
        """Mark the given tasks ``failed``; return the ids that exist, in the order given."""
        job_tasks = self._tasks.get(job_id)
        if job_tasks is None:
            return []
        seqs = [job_tasks.seq_of.get(task_id) for task_id in dict.fromkeys(task_ids)]
        selected = [job_tasks.by_seq[seq] for seq in seqs if seq is not None]
        fail_tasks(job_tasks, selected, error)
        return [task.id for task in selected]

    async def set_task_result(self, job_id: str, task_id: str, result: Any) -> None:
        """Replace a task's result, its status unchanged; raises TaskNotFound (or JobNotFound)."""
        self._find(job_id, task_id).result = json_copy(result)

    async def release_leases(self, job_id: str, runner_id: str) -> None:
        """Give back every task leased by ``runner_id`` (``running`` ones to ``queued``)."""
        # The protocol passes no time: the interrupted attempts end "now".
        self._release(job_id, runner_id, time.time())

    def _release(self, job_id: str, runner_id: str, now: float) -> None:
        self._claims.release(job_id, runner_id)
        job_tasks = self._tasks.get(job_id)
        if job_tasks is None:
            return
        for task in job_tasks.by_seq.values():
            if task.lease_owner != runner_id:
                continue
            task.lease_owner = None
            if task.status is TaskStatus.RUNNING:
                job_tasks.set_status(task, TaskStatus.QUEUED)
                interrupt_attempts(job_tasks, task.seq, now)

    async def count_tasks(self, job_id: str) -> StatusCounts:
        """Tasks per status."""
        counts: dict[TaskStatus, int] = {}
        for task in self._job_tasks(job_id).by_seq.values():
            counts[task.status] = counts.get(task.status, 0) + 1
        return StatusCounts.from_mapping(counts)

    async def get_task(self, job_id: str, task_id: str) -> Task:
        """One task; raises TaskNotFound (or JobNotFound)."""
        return copy_task(self._find(job_id, task_id))

    def _find(self, job_id: str, task_id: str) -> Task:
        job_tasks = self._job_tasks(job_id)
        seq = job_tasks.seq_of.get(task_id)
        if seq is None:
            raise TaskNotFound(job_id, task_id)
        return job_tasks.by_seq[seq]

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
        found: list[Task] = []
        for task in self._job_tasks(job_id).in_order():
            if len(found) >= limit:
                break
            if task.seq <= after_seq or (statuses is not None and task.status not in statuses):
                continue
            if not search or search in task.id:
                found.append(copy_task(task))
        return found

    async def list_attempts(self, job_id: str, task_id: str) -> list[Attempt]:
        """Every recorded attempt of a task, oldest first."""
        seq = self._find(job_id, task_id).seq
        attempts = self._tasks[job_id].attempts.get(seq, {})
        return [attempts[number] for number in sorted(attempts)]

    async def list_task_changes(
        self, job_id: str, *, after_change_seq: int = 0, limit: int = 1000
    ) -> list[TaskChange]:
        """The job's task state changes after ``after_change_seq``, oldest first."""
        changes = self._job_tasks(job_id).changes
        # Change numbers increase along the list: find the first one after the cursor.
        start = bisect.bisect_right(changes, after_change_seq, key=lambda c: c.change_seq)
        return changes[start : start + limit]

    # -- files --------------------------------------------------------------

    async def create_file(self, file: StoredFile, content: bytes) -> None:
        """Store an uploaded file under its new id."""
        self._files.add(file, content)

    async def get_file(self, file_id: str) -> StoredFile:
        """A file's description; raises FileNotFound."""
        return self._files.get(file_id)[0]

    async def read_file(self, file_id: str) -> bytes:
        """A file's content; raises FileNotFound."""
        return self._files.get(file_id)[1]

    async def list_files(self, *, purpose: str | None = None, limit: int = 100) -> list[StoredFile]:
        """Files, newest first (with that purpose)."""
        return self._files.newest(purpose, limit)
