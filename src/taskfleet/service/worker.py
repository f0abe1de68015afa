"""The worker: take queued jobs from the store and run them, one at a time.

Used by ``taskfleet worker`` (which wires SIGINT/SIGTERM to :meth:`Worker.stop`)
and by ``taskfleet serve`` (which runs it next to the HTTP server in one event
loop). Many workers, in any processes, may share one store; when one dies
(kill -9, a lost host), another takes its job up where it stopped, as
Celery's late acknowledgement redelivers a task. An idle worker
looks again when the store says a job was queued (LISTEN/NOTIFY on
PostgreSQL, at once on any host), when this process wakes it (``wake``), or
after its poll interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from taskfleet.engine.liveness import DEFAULT_LEASE_S, new_runner, reap_if_dead
from taskfleet.engine.runner import Runner
from taskfleet.errors import TaskfleetError
from taskfleet.model import WORKER_CLAIMABLE_JOB_STATES, Job, JobStatus
from taskfleet.store.base import Store

__all__ = ["Worker"]


def _quiet(message: str) -> None:
    """The default: say nothing."""


class Worker:
    """Runs queued jobs until stopped (or, with ``once``, until none is queued)."""

    def __init__(
        self,
        store: Store,
        *,
        concurrency: int | None = None,
        poll_s: float = 1.0,
        lease_s: float = DEFAULT_LEASE_S,
        on_message: Callable[[str], None] = _quiet,
    ) -> None:
        self.store = store
        self.concurrency = concurrency
        self.lease_s = lease_s  # Settings.lease: how long a job stays ours without a heartbeat
        self.poll_s = poll_s
        self.on_message = on_message
        self._stopping = asyncio.Event()
        self._current: list[Runner] = []
        self.wake = asyncio.Event()  # set to look for queued jobs before the next poll

    def stop(self) -> None:
        """Start no new job; the running one stops starting tasks and is handed back."""
        self._stopping.set()
        for runner in self._current:
            runner.request_stop()

    def kill(self) -> None:
        """Stop, and also kill the running tasks: they run again later without spending a retry."""
        self.stop()
        for runner in self._current:
            runner.request_kill()

    async def run(self, *, once: bool = False) -> None:
        """Run queued jobs until :meth:`stop` (or, with ``once``, until none is queued)."""
        self.on_message("taskfleet worker: waiting for queued jobs")
        while not self._stopping.is_set():
            if await self._run_next():
                continue
            if once:
                return
            await self._idle()

    async def _run_next(self) -> bool:
        """Claim the oldest job waiting for a worker and run it; False when none waits.

        Waiting: queued, or left by a worker that died (its tasks that were
        running run again without spending a retry). The claim is one store
        transaction (on PostgreSQL it passes over a job another worker is
        claiming right now), so racing workers never wait for each other nor
        take the same job.
        """
        await self._reap_dead_runners()
        info = new_runner(self.lease_s, worker=True)
        job = await self.store.claim_queued_job(info)
        if job is None:
            return False
        runner = Runner(self.store, job.job_id, info=info, concurrency_cap=self.concurrency)
        self._current.append(runner)
        if self._stopping.is_set():
            runner.request_stop()  # stopped while claiming: hand the job straight back
        try:
            job = await runner.run(WORKER_CLAIMABLE_JOB_STATES, acquired=job)
        finally:
            self._current.clear()
        if job.options.merge and job.status.is_final:
            job = await self._merge(job)
        if job.status is JobStatus.INTERRUPTED:
            # This worker was asked to stop: hand the job back to the other workers.
            await self.store.set_job_status(job.job_id, JobStatus.QUEUED, time.time())
        self.on_message(f"taskfleet worker: job {job.job_id} {job.status.value}")
        return True

    async def _merge(self, job: Job) -> Job:
        """The merge point of a job submitted with merge: what it sends back is queued again."""
        from taskfleet.service.merge import merge_queued_job

        try:
            return await merge_queued_job(self.store, job)
        except TaskfleetError as exc:  # a dirty target, a failed push: the job's tasks stand
            self.on_message(f"taskfleet worker: job {job.job_id}: {exc}")
            return job

    async def _reap_dead_runners(self) -> None:
        """Show the jobs whose runner is gone ``interrupted``: a dead worker's become claimable."""
        for job in await self.store.list_jobs(status=JobStatus.RUNNING, limit=1000):
            reaped = await reap_if_dead(self.store, job)
            runner = job.runner
            if reaped.status is JobStatus.INTERRUPTED and runner is not None and runner.is_worker:
                self.on_message(
                    f"taskfleet worker: job {job.job_id} lost its worker "
                    f"(pid {runner.pid} on {runner.host}); it waits for the next worker"
                )

    async def _idle(self) -> None:
        """Wait for a stop, a wake-up, a job queued in the store, or the poll interval."""
        waits = {
            asyncio.ensure_future(self._stopping.wait()),
            asyncio.ensure_future(self.wake.wait()),
            asyncio.ensure_future(self.store.wait_for_queued_job(self.poll_s)),
        }
        try:
            await asyncio.wait(waits, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            self.wake.clear()
