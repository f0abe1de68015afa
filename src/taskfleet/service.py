"""One service surface: submit, run, resume, retry, cancel, status, results.

The CLI, the Python API and the HTTP routes all call these; they only parse
and render around them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from taskfleet.engine.liveness import reap_if_dead
from taskfleet.engine.progress import EventListener
from taskfleet.engine.runner import Runner
from taskfleet.errors import JobConflict
from taskfleet.model import (
    RETRYABLE_TASK_STATES,
    Job,
    JobOptions,
    JobStatus,
    StatusCounts,
    Task,
    TaskSpec,
    TaskStatus,
)
from taskfleet.results import iso
from taskfleet.store.base import Store

RESUMABLE = frozenset({JobStatus.QUEUED, JobStatus.INTERRUPTED})
RETRYABLE = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.INTERRUPTED,
        JobStatus.QUEUED,
    }
)


def new_job_id() -> str:
    """A fresh job id: short, unique, and sortable by creation time."""
    return f"job-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class JobReport:
    """A job's state and progress, as ``status --json`` prints it."""

    job: Job
    counts: StatusCounts
    now: float

    @property
    def elapsed_s(self) -> float:
        job = self.job
        if job.started_at is None:
            return 0.0
        end = job.finished_at if job.finished_at is not None else self.now
        if job.status is JobStatus.INTERRUPTED and job.runner is not None:
            end = job.runner.heartbeat_at  # the clock stopped with its runner
        return max(end - job.started_at, 0.0)

    @property
    def items_per_second(self) -> float:
        elapsed = self.elapsed_s
        return self.counts.ended / elapsed if elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.counts.open == 0:
            return 0.0
        rate = self.items_per_second
        if rate <= 0 or self.job.status is not JobStatus.RUNNING:
            return None
        return self.counts.open / rate

    @property
    def progress(self) -> float:
        total = self.counts.total
        return round(100.0 * self.counts.ended / total, 2) if total else 100.0

    def to_dict(self) -> dict[str, Any]:
        """The SPEC's status object."""
        job, counts = self.job, self.counts
        data: dict[str, Any] = {
            "job_id": job.job_id,
            "name": job.name,
            "status": job.status.value,
            "total": counts.total,
            **counts.as_dict(),
            "progress": self.progress,
            "created_at": iso(job.created_at),
            "started_at": iso(job.started_at),
            "finished_at": iso(job.finished_at),
            "elapsed_seconds": round(self.elapsed_s, 3),
            "items_per_second": round(self.items_per_second, 3),
            "eta_seconds": None if self.eta_s is None else round(self.eta_s, 1),
            "error": job.error,
            "validation_round": job.validation_round,
        }
        if job.usage:
            data["usage"] = usage_dict(job.usage)
        if job.runner is not None:
            data["runner"] = {"host": job.runner.host, "pid": job.runner.pid}
        return data


def usage_dict(usage: Mapping[str, float]) -> dict[str, float | int]:
    """Usage totals for JSON: counts as integers, ``cost`` as it is."""
    return {
        key: int(value) if key != "cost" and float(value).is_integer() else value
        for key, value in usage.items()
    }


async def create_job(
    store: Store,
    tasks: Iterable[TaskSpec],
    options: JobOptions,
    *,
    job_id: str | None = None,
    name: str = "",
    status: JobStatus = JobStatus.QUEUED,
) -> Job:
    """Validate-and-store a job in one transaction; bad input stores nothing."""
    job = Job(
        job_id=job_id or new_job_id(),
        name=name,
        status=status,
        options=options,
        created_at=time.time(),
        total=0,
    )
    return await store.create_job(job, tasks)


async def get_job(store: Store, job_id: str) -> Job:
    """The job, marked ``interrupted`` first if its runner is gone."""
    return await reap_if_dead(store, await store.get_job(job_id))


async def job_report(store: Store, job_id: str) -> JobReport:
    """State and progress of one job."""
    job = await get_job(store, job_id)
    return JobReport(job, await store.count_tasks(job_id), time.time())


async def list_reports(
    store: Store, *, status: JobStatus | None = None, limit: int = 100, offset: int = 0
) -> list[JobReport]:
    """Jobs newest first, with their progress."""
    reports = []
    for job in await store.list_jobs(status=status, limit=limit, offset=offset):
        job = await reap_if_dead(store, job)
        reports.append(JobReport(job, await store.count_tasks(job.job_id), time.time()))
    return reports


async def cancel_job(store: Store, job_id: str) -> Job:
    """Cancel a job's queued and running tasks; a running job's runner kills its attempts."""
    job = await get_job(store, job_id)
    if job.status.is_final:
        return job
    now = time.time()
    await store.cancel_open_tasks(job_id, now)
    await store.set_job_status(job_id, JobStatus.CANCELLED, now)
    return await store.get_job(job_id)


async def run_job(
    store: Store,
    job_id: str,
    *,
    mode: str = "run",
    callables: Mapping[str, Callable[..., Any]] | None = None,
    on_event: EventListener | None = None,
    on_runner: Callable[[Runner], None] | None = None,
    concurrency_cap: int | None = None,
) -> Job:
    """Run a job in this process: ``run`` (a new job), ``resume`` or ``retry``.

    ``on_runner`` receives the Runner before it starts (to wire signals and
    progress). A job that another live process runs raises JobConflict.
    """
    job = await get_job(store, job_id)
    if job.status is JobStatus.RUNNING:
        host = job.runner.host if job.runner else "?"
        pid = job.runner.pid if job.runner else "?"
        raise JobConflict(f"job '{job_id}' is running in process {pid} on {host}")
    from_statuses: Collection[JobStatus] = RESUMABLE
    if mode == "retry":
        reopened = await store.reopen_tasks(job_id, statuses=RETRYABLE_TASK_STATES)
        if reopened == 0 and job.status.is_final:
            return job
        await store.set_validation_round(job_id, 0)
        from_statuses = RETRYABLE
    elif job.status.is_final:
        return job  # resume of an ended job: nothing to do
    runner = Runner(
        store, job_id, callables=callables, on_event=on_event, concurrency_cap=concurrency_cap
    )
    if on_runner is not None:
        on_runner(runner)
    return await runner.run(from_statuses)


async def iter_tasks(
    store: Store, job_id: str, statuses: Collection[TaskStatus] | None = None
) -> AsyncIterator[Task]:
    """Every task of a job in input order, read page by page."""
    await store.get_job(job_id)
    after_seq = 0
    while True:
        page = await store.list_tasks(job_id, statuses=statuses, after_seq=after_seq, limit=1000)
        if not page:
            return
        for task in page:
            yield task
        after_seq = page[-1].seq


def failed_record(task: Task) -> dict[str, Any]:
    """What `failed JOB` shows of one task."""
    return {
        "id": task.id,
        "kind": task.kind,
        "status": task.status.value,
        "attempts": task.attempts,
        "error": task.error,
        "description": task.description,
        "profile": task.profile,
    }
