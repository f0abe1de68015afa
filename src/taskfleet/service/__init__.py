"""One service surface: submit, run, resume, retry, cancel, status, results.

The CLI, the Python API and the HTTP routes all call these; they only parse
and render around them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from taskfleet.config.profiles import Profile
from taskfleet.engine.liveness import reap_if_dead
from taskfleet.errors import JobConflict
from taskfleet.model import (
    SELECTIVE_RETRY_TASK_STATES,
    Attempt,
    Job,
    JobOptions,
    JobStatus,
    StatusCounts,
    Task,
    TaskChange,
    TaskSpec,
    TaskStatus,
)
from taskfleet.service.results import iso
from taskfleet.store.base import Store

if TYPE_CHECKING:  # the runner, kinds and parser load only in the commands that run or parse
    from taskfleet.engine.progress import EventListener
    from taskfleet.engine.runner import Runner
    from taskfleet.kinds import Kind

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
    metadata: Mapping[str, Any] | None = None,
) -> Job:
    """Validate-and-store a job in one transaction; bad input stores nothing."""
    job = Job(
        job_id=job_id or new_job_id(),
        name=name,
        status=status,
        options=options,
        created_at=time.time(),
        total=0,
        metadata=dict(metadata or {}),
    )
    return await store.create_job(job, tasks)


async def submit_objects(
    store: Store,
    objects: Iterable[Mapping[str, Any]],
    options: JobOptions,
    *,
    profiles: Mapping[str, Profile],
    job_id: str | None = None,
    name: str = "",
    kinds: Callable[[str], Kind] | None = None,
) -> Job:
    """Check task objects (a request body) as a task file is checked and queue them as a job.

    Bad input raises TaskfileError (``line`` is the 1-based position in
    ``objects``) and stores nothing. ``kinds`` restricts the kinds allowed.
    """
    from taskfleet.input.taskfile import parse_tasks
    from taskfleet.kinds import get_kind

    tasks = parse_tasks(
        objects,
        source_name="<body>",
        profiles=profiles,
        resource_limits=options.resource_limits,
        kinds=kinds or get_kind,
        endpoints=options.endpoints,
    )
    return await create_job(store, tasks, options, job_id=job_id, name=name)


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


async def list_reports_page(
    store: Store, *, status: JobStatus | None, limit: int, offset: int
) -> tuple[list[JobReport], int]:
    """One page of ``list_reports``, and how many jobs the filter matches in all."""
    reports = await list_reports(store, status=status, limit=limit, offset=offset)
    return reports, await store.count_jobs(status=status)


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
        reopened = await store.reopen_tasks(job_id, statuses=SELECTIVE_RETRY_TASK_STATES)
        if reopened == 0 and job.status.is_final:
            return job
        await store.set_validation_round(job_id, 0)
        from_statuses = RETRYABLE
    elif job.status.is_final:
        return job  # resume of an ended job: nothing to do
    from taskfleet.engine.runner import Runner

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


async def requeue_for_retry(store: Store, job_id: str) -> Job:
    """Reopen a job's failed, cancelled and skipped tasks and queue the job for a worker.

    The queued counterpart of ``run_job(mode="retry")``, for interfaces that do
    not run jobs themselves (the HTTP API). A running job raises JobConflict.
    """
    job = await get_job(store, job_id)
    if job.status is JobStatus.RUNNING:
        raise JobConflict(f"job '{job_id}' is running; cancel it or wait for it to end")
    reopened = await store.reopen_tasks(job_id, statuses=SELECTIVE_RETRY_TASK_STATES)
    if reopened == 0 and job.status.is_final:
        return job
    await store.set_validation_round(job_id, 0)
    if job.status is not JobStatus.QUEUED:
        await store.set_job_status(job_id, JobStatus.QUEUED, time.time())
    return await store.get_job(job_id)


async def task_detail(store: Store, job_id: str, task_id: str) -> tuple[Task, list[Attempt]]:
    """One task and every recorded attempt of it."""
    task = await store.get_task(job_id, task_id)
    return task, await store.list_attempts(job_id, task_id)


async def task_changes(
    store: Store, job_id: str, *, after_change_seq: int = 0, limit: int = 500
) -> list[TaskChange]:
    """The job's task state changes after a cursor (for event streams)."""
    return await store.list_task_changes(job_id, after_change_seq=after_change_seq, limit=limit)


async def current_item(store: Store, job_id: str) -> str | None:
    """The id of a task running now (the first in input order), or None."""
    running = await store.list_tasks(job_id, statuses=[TaskStatus.RUNNING], limit=1)
    return running[0].id if running else None


def progress_block(report: JobReport, current: str | None) -> dict[str, Any]:
    """A job's progress as the HTTP API and its event stream show it."""
    counts = report.counts
    eta = report.eta_s
    return {
        "total": counts.total,
        "processed": counts.ended,
        "successful": counts.succeeded,
        "failed": counts.failed,
        "skipped": counts.skipped,
        "cancelled": counts.cancelled,
        "running": counts.running,
        "percentage": report.progress,
        "elapsed_seconds": round(report.elapsed_s, 3),
        "items_per_second": round(report.items_per_second, 3),
        "estimated_remaining_seconds": None if eta is None else round(eta, 1),
        "current_item": current,
    }


async def report_progress(store: Store, report: JobReport) -> dict[str, Any]:
    """The progress block of a job's report (``current_item`` looked up only while running)."""
    running = report.counts.running > 0
    current = await current_item(store, report.job.job_id) if running else None
    return progress_block(report, current)


async def job_progress(store: Store, job_id: str) -> tuple[JobReport, dict[str, Any]]:
    """A job's report and its progress block."""
    report = await job_report(store, job_id)
    return report, await report_progress(store, report)


async def store_stats(store: Store) -> dict[str, Any]:
    """Jobs per status, tasks per status over every job, and the throughput of running jobs."""
    jobs = {status.value: await store.count_jobs(status=status) for status in JobStatus}
    tasks = dict.fromkeys((status.value for status in TaskStatus), 0)
    throughput = 0.0
    offset, page = 0, 200
    while reports := await list_reports(store, limit=page, offset=offset):
        for report in reports:
            for key, count in report.counts.as_dict().items():
                tasks[key] += count
            if report.job.status is JobStatus.RUNNING:
                throughput += report.items_per_second
        offset += page
    return {
        "jobs": {"total": sum(jobs.values()), **jobs},
        "tasks": {"total": sum(tasks.values()), **tasks},
        "items_per_second": round(throughput, 3),
    }
