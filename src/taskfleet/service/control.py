"""Control of stored jobs: run one in this process (run, resume, retry), requeue, cancel.

``run_job`` is how the CLI and the Python API run a job themselves;
``requeue_for_retry`` is its counterpart for interfaces that leave the
running to workers (the HTTP API). A job another live process runs is never
taken over: that raises JobConflict.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from taskfleet.engine.liveness import DEFAULT_LEASE_S
from taskfleet.errors import InvalidTransition, JobConflict
from taskfleet.model import SELECTIVE_RETRY_TASK_STATES, Job, JobStatus, RunMode, TaskStatus
from taskfleet.service.reports import get_job
from taskfleet.service.tasks import iter_tasks
from taskfleet.store.base import Store

if TYPE_CHECKING:  # the runner and the kinds load only in the commands that run a job
    from taskfleet.engine.progress import EventListener
    from taskfleet.engine.runner import Runner

__all__ = [
    "RESUMABLE_JOB_STATES",
    "SELECTIVE_RETRY_JOB_STATES",
    "cancel_job",
    "prune_agent_leftovers",
    "requeue_for_retry",
    "run_job",
]

# Job states a run or a resume takes a job from.
RESUMABLE_JOB_STATES = frozenset({JobStatus.QUEUED, JobStatus.INTERRUPTED})
# Job states a selective retry takes a job from: ended ones too.
SELECTIVE_RETRY_JOB_STATES = RESUMABLE_JOB_STATES | {
    JobStatus.COMPLETED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
}


async def cancel_job(store: Store, job_id: str) -> Job:
    """Cancel a job's queued and running tasks; a running job's runner kills its attempts."""
    job = await get_job(store, job_id)
    if job.status.is_final:
        return job
    now = time.time()
    await store.cancel_open_tasks(job_id, now)
    with contextlib.suppress(InvalidTransition):  # the job ended meanwhile: its end came first
        await store.set_job_status(job_id, JobStatus.CANCELLED, now)
    return await store.get_job(job_id)


async def run_job(
    store: Store,
    job_id: str,
    *,
    mode: RunMode = RunMode.RUN,
    lease_s: float = DEFAULT_LEASE_S,
    callables: Mapping[str, Callable[..., Any]] | None = None,
    on_event: EventListener | None = None,
    on_runner: Callable[[Runner], None] | None = None,
    concurrency_cap: int | None = None,
) -> Job:
    """Run a job in this process: its first run, a resume, or a selective retry.

    ``lease_s``: how long the job stays this process's without a heartbeat
    (``Settings.lease``). ``on_runner`` receives the Runner before it starts
    (to wire signals and progress). A job that another live process runs
    raises JobConflict.
    """
    job = await get_job(store, job_id)
    if job.status is JobStatus.RUNNING:
        host = job.runner.host if job.runner else "?"
        pid = job.runner.pid if job.runner else "?"
        raise JobConflict(f"job '{job_id}' is running in process {pid} on {host}")
    from_statuses = await _states_to_take_from(store, job, mode)
    if from_statuses is None:
        return job  # an ended job: resumed, or retried with nothing to retry
    await prune_agent_leftovers(store, job_id, mode)
    from taskfleet.engine.runner import Runner

    runner = Runner(
        store,
        job_id,
        lease_s=lease_s,
        callables=callables,
        on_event=on_event,
        concurrency_cap=concurrency_cap,
    )
    if on_runner is not None:
        on_runner(runner)
    return await runner.run(from_statuses)


async def prune_agent_leftovers(store: Store, job_id: str, mode: RunMode) -> None:
    """On resume and retry: kill, remove and delete what dead attempts of agent tasks left.

    Called while no runner holds the job: every worktree of it is a
    leftover. Branches are kept for succeeded tasks (the merge point's) and
    for tasks the merge point sent back (a feedback file waits for them).
    """
    from pathlib import Path

    if mode is RunMode.RUN:
        return  # a first run: no attempt has run yet

    repos: dict[str, set[str]] = {}
    async for task in iter_tasks(store, job_id):
        if task.kind != "agent" or "repo" not in task.spec:
            continue
        keep = repos.setdefault(task.spec["repo"], set())
        if task.status is TaskStatus.SUCCEEDED:
            keep.add(task.id)
    if not repos:
        return
    from taskfleet.kinds.agent.cleanup import prune_job, tasks_sent_back

    for repo, keep in repos.items():
        if Path(repo, ".taskfleet").is_dir():
            await prune_job(Path(repo), job_id, keep | tasks_sent_back(Path(repo), job_id))


async def _states_to_take_from(
    store: Store, job: Job, mode: RunMode
) -> Collection[JobStatus] | None:
    """The job states the runner may take the job from; None when there is nothing to run."""
    if mode is RunMode.RETRY:
        return SELECTIVE_RETRY_JOB_STATES if await _reopen_for_retry(store, job) else None
    return None if job.status.is_final else RESUMABLE_JOB_STATES


async def requeue_for_retry(store: Store, job_id: str) -> Job:
    """Reopen a job's failed, cancelled and skipped tasks and queue the job for a worker.

    The queued counterpart of ``run_job(mode=RunMode.RETRY)``, for interfaces
    that do not run jobs themselves (the HTTP API). A running job raises JobConflict.
    """
    job = await get_job(store, job_id)
    if job.status is JobStatus.RUNNING:
        raise JobConflict(f"job '{job_id}' is running; cancel it or wait for it to end")
    if not await _reopen_for_retry(store, job):
        return job
    if job.status is not JobStatus.QUEUED:
        await store.set_job_status(job_id, JobStatus.QUEUED, time.time())
    return await store.get_job(job_id)


async def _reopen_for_retry(store: Store, job: Job) -> bool:
    """Reopen the tasks a selective retry runs again; False when an ended job has none."""
    reopened = await store.reopen_tasks(job.job_id, statuses=SELECTIVE_RETRY_TASK_STATES)
    if reopened == 0 and job.status.is_final:
        return False
    await store.set_validation_round(job.job_id, 0)  # validation starts over with the retry
    return True
