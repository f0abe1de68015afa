"""Running stored jobs here by RunMode, requeueing, cancelling; the lease reaches the store."""

from __future__ import annotations

import pytest

from taskfleet.config.settings import Settings
from taskfleet.engine.liveness import new_runner
from taskfleet.errors import JobConflict
from taskfleet.model import JobStatus, RunMode, TaskStatus
from taskfleet.service.control import cancel_job, requeue_for_retry, run_job
from taskfleet.service.submit import job_options, submit
from taskfleet.service.worker import Worker
from taskfleet.store.memory.store import MemoryStore


async def _job(store: MemoryStore, settings: Settings, *, queued: bool, **task: object) -> str:
    tasks = [{"id": "ok", "duration": 0}, {"id": "flaky", "duration": 0, **task}]
    options = job_options(settings, "/w")
    return (await submit(store, tasks, options, job_id="j", queued=queued)).job_id


async def test_run_records_the_lease_it_was_given(store: MemoryStore, settings: Settings) -> None:
    job_id = await _job(store, settings, queued=False)
    job = await run_job(store, job_id, mode=RunMode.RUN, lease_s=settings.lease)
    assert job.status is JobStatus.COMPLETED
    stored = await store.get_job(job_id)
    assert stored.runner is not None and stored.runner.lease_s == 12.5


async def test_resume_of_an_ended_job_does_nothing(store: MemoryStore, settings: Settings) -> None:
    job_id = await _job(store, settings, queued=False)
    await run_job(store, job_id)
    before = await store.get_job(job_id)
    assert await run_job(store, job_id, mode=RunMode.RESUME) == before


async def test_retry_runs_the_failed_tasks_again(store: MemoryStore, settings: Settings) -> None:
    no_retries = Settings(db="memory://", concurrency=2, retries=0, retry_delay=0.0)
    job_id = await _job(store, no_retries, queued=False, fail_times=1)
    assert (await run_job(store, job_id)).status is JobStatus.FAILED
    again = await run_job(store, job_id, mode=RunMode.RETRY, lease_s=7.0)
    assert again.status is JobStatus.COMPLETED
    assert (await store.get_task(job_id, "flaky")).status is TaskStatus.SUCCEEDED
    stored = await store.get_job(job_id)
    assert stored.runner is not None and stored.runner.lease_s == 7.0
    # Nothing left to retry: the ended job is returned as it is.
    assert await run_job(store, job_id, mode=RunMode.RETRY) == await store.get_job(job_id)


async def test_requeue_for_retry_queues_the_job_for_a_worker(
    store: MemoryStore, settings: Settings
) -> None:
    no_retries = Settings(db="memory://", concurrency=2, retries=0, retry_delay=0.0)
    job_id = await _job(store, no_retries, queued=False, fail_times=1)
    await run_job(store, job_id)
    requeued = await requeue_for_retry(store, job_id)
    assert requeued.status is JobStatus.QUEUED
    assert (await store.get_task(job_id, "flaky")).status is TaskStatus.QUEUED
    await Worker(store, poll_s=0.01, lease_s=settings.lease).run(once=True)
    stored = await store.get_job(job_id)
    assert stored.status is JobStatus.COMPLETED
    assert stored.runner is not None and stored.runner.lease_s == 12.5


async def test_a_job_a_live_process_runs_is_not_taken_over(
    store: MemoryStore, settings: Settings
) -> None:
    job_id = await _job(store, settings, queued=True)
    await store.acquire_job(job_id, new_runner(), [JobStatus.QUEUED])
    with pytest.raises(JobConflict, match="is running in process"):
        await run_job(store, job_id, mode=RunMode.RESUME)
    with pytest.raises(JobConflict, match="is running"):
        await requeue_for_retry(store, job_id)


async def test_cancel_ends_the_job_and_its_open_tasks(
    store: MemoryStore, settings: Settings
) -> None:
    job_id = await _job(store, settings, queued=True)
    cancelled = await cancel_job(store, job_id)
    assert cancelled.status is JobStatus.CANCELLED
    assert (await store.get_task(job_id, "ok")).status is TaskStatus.CANCELLED
    assert await cancel_job(store, job_id) == cancelled
