"""The end of a run: why it stopped, and what its job becomes when the runner lets go.

A run ends when every task has ended, or stops early for a reason: an
interrupt (Ctrl-C, SIGTERM; the job can be resumed), ``cancel JOB``, a
fail-fast failure, or a lost lease (another runner holds the job now).
"""

from __future__ import annotations

import enum
import logging
import time

from taskfleet.model import Job, JobStatus, StatusCounts
from taskfleet.store.base import Store

log = logging.getLogger(__name__)


class StopReason(enum.StrEnum):
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM: resumable
    CANCELLED = "cancelled"  # `cancel JOB`
    FAIL_FAST = "fail_fast"
    LEASE_LOST = "lease_lost"


def next_stop_reason(current: StopReason | None, reason: StopReason) -> StopReason:
    """The reason a run stops for once ``reason`` comes: the first one, unless a cancel."""
    if current is None or reason is StopReason.CANCELLED:
        return reason
    return current


def job_status_after(counts: StatusCounts, error: str | None) -> JobStatus:
    """A job whose tasks all ended: ``completed`` if none failed, was skipped or cancelled."""
    clean = counts.failed + counts.skipped + counts.cancelled == 0 and error is None
    return JobStatus.COMPLETED if clean else JobStatus.FAILED


async def release_after_run(
    store: Store, job_id: str, runner_id: str, stop: StopReason | None, error: str | None
) -> Job:
    """Give the job up with the status its run ended in; return it as stored.

    ``error``: a job-level error (the validation command's). A cancelled or
    failed-fast job's tasks that never started end ``cancelled``; a lost
    lease leaves the job to the runner that holds it now.
    """
    now = time.time()
    if stop is StopReason.LEASE_LOST:
        return await store.get_job(job_id)
    if stop is StopReason.INTERRUPTED:
        status = JobStatus.INTERRUPTED
    elif stop is StopReason.CANCELLED:
        await store.cancel_open_tasks(job_id, now)
        status = JobStatus.CANCELLED
    else:
        if stop is StopReason.FAIL_FAST:
            await store.cancel_open_tasks(job_id, now)
        status = job_status_after(await store.count_tasks(job_id), error)
    await store.release_job(job_id, runner_id, status, now, error=error)
    log.info("runner %s released job %s as %s", runner_id, job_id, status.value)
    return await store.get_job(job_id)
