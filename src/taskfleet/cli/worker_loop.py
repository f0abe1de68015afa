"""`taskfleet worker`: take queued jobs from the store and run them, one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import click

from taskfleet import service
from taskfleet.engine.runner import Runner
from taskfleet.errors import JobConflict
from taskfleet.model import JobStatus
from taskfleet.store.base import Store


async def run_worker(store: Store, *, concurrency: int | None, poll_s: float, once: bool) -> None:
    """Run queued jobs until SIGINT/SIGTERM (or, with ``once``, until none is queued)."""
    stopping = asyncio.Event()
    current: list[Runner] = []

    def on_signal() -> None:
        stopping.set()
        for runner in current:
            runner.request_stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    click.echo("taskfleet worker: waiting for queued jobs", err=True)
    while not stopping.is_set():
        waiting = await store.count_jobs(status=JobStatus.QUEUED)
        # Oldest first: list_jobs is newest first, so take the last one.
        queued = await store.list_jobs(status=JobStatus.QUEUED, limit=1, offset=max(waiting - 1, 0))
        if not queued:
            if once:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), poll_s)
            continue
        job_id = queued[-1].job_id
        try:
            job = await service.run_job(
                store,
                job_id,
                mode="resume",
                on_runner=current.append,
                concurrency_cap=concurrency,
            )
        except JobConflict:
            continue  # another worker took it first
        finally:
            current.clear()
        if job.status is JobStatus.INTERRUPTED:
            # This worker was asked to stop: hand the job back to the other workers.
            await store.set_job_status(job_id, JobStatus.QUEUED, time.time())
        click.echo(f"taskfleet worker: job {job_id} {job.status.value}", err=True)
