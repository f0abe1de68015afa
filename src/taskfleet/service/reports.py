"""Job reports: a job's state and progress, listings of jobs, and the store's totals.

What ``status``, ``list``, ``GET /jobs`` and the event streams show. A job
whose runner is gone is marked ``interrupted`` before it is reported, so no
interface shows a dead job as running.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from taskfleet.engine.liveness import reap_if_dead
from taskfleet.model import Job, JobStatus, StatusCounts, TaskStatus
from taskfleet.service.results import iso
from taskfleet.store.base import Store

__all__ = [
    "JobReport",
    "current_item",
    "get_job",
    "job_progress",
    "job_report",
    "list_reports",
    "list_reports_in_states",
    "list_reports_page",
    "progress_block",
    "report_progress",
    "store_stats",
    "usage_dict",
]


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


async def list_reports_in_states(
    store: Store, statuses: Collection[JobStatus], *, limit: int = 100
) -> list[JobReport]:
    """Jobs in any of ``statuses``, newest first, at most ``limit``."""
    # The store lists one status at a time (by its index); the newest
    # ``limit`` of each hold the newest ``limit`` of all.
    jobs: list[Job] = []
    for status in set(statuses):
        jobs += await store.list_jobs(status=status, limit=limit)
    jobs.sort(key=lambda job: (-job.created_at, job.job_id))
    reports = []
    for job in jobs[:limit]:
        job = await reap_if_dead(store, job)
        reports.append(JobReport(job, await store.count_tasks(job.job_id), time.time()))
    return reports


async def list_reports_page(
    store: Store, *, status: JobStatus | None, limit: int, offset: int
) -> tuple[list[JobReport], int]:
    """One page of ``list_reports``, and how many jobs the filter matches in all."""
    reports = await list_reports(store, status=status, limit=limit, offset=offset)
    return reports, await store.count_jobs(status=status)


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
