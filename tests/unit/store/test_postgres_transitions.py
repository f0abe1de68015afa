"""The PostgreSQL store changes states only as the model's transition table allows.

Each status-changing statement takes the states it may change as a
parameter built by ``store.common.transitions`` through the model's gate
(tested in test_transition_gate.py); these tests check races in which a statement meets a row
in a state it may not change.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from taskfleet.errors import InvalidTransition
from taskfleet.model import (
    JOB_TRANSITIONS,
    TASK_TRANSITIONS,
    AttemptOutcome,
    JobStatus,
    TaskStatus,
)
from taskfleet.store.postgres.store import PostgresStore

from .conftest import finish, job, runner, start, tasks
from .random_workload import random_job, random_step

S = TaskStatus


@pytest_asyncio.fixture
async def pg(pg_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_url)
    await store.open()
    yield store
    await store.close()


# -- statements meeting rows they may not change ------------------------------------


async def test_a_start_after_a_cancel_leaves_the_task_cancelled(pg: PostgresStore) -> None:
    assert S.RUNNING not in TASK_TRANSITIONS[S.CANCELLED]
    await pg.create_job(job(), tasks(1))
    await pg.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    await pg.claim_tasks("job-1", "r1", 1)
    await pg.cancel_open_tasks("job-1", 2005.0)  # from elsewhere, before the start is recorded
    await pg.record_attempts("job-1", [start(1)])
    await pg.record_attempts("job-1", [finish(1)])
    task = await pg.get_task("job-1", "t1")
    assert (task.status, task.lease_owner, task.finished_at) == (S.CANCELLED, None, 2005.0)
    changes = await pg.list_task_changes("job-1")
    assert [change.status for change in changes] == [S.CANCELLED]
    # The attempt did run: it is recorded all the same.
    [attempt] = await pg.list_attempts("job-1", "t1")
    assert attempt.outcome is AttemptOutcome.SUCCEEDED


async def test_a_forbidden_job_status_is_refused_and_nothing_changes(pg: PostgresStore) -> None:
    await pg.create_job(job(), [])
    await pg.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    forbidden = next(s for s in JobStatus if s not in JOB_TRANSITIONS[JobStatus.RUNNING])
    with pytest.raises(InvalidTransition):
        await pg.set_job_status("job-1", forbidden, 3000.0)
    got = await pg.get_job("job-1")
    assert (got.status, got.finished_at) == (JobStatus.RUNNING, None)


async def test_a_release_keeps_a_cancel_from_elsewhere(pg: PostgresStore) -> None:
    assert JobStatus.COMPLETED not in JOB_TRANSITIONS[JobStatus.CANCELLED]
    await pg.create_job(job(), tasks(1))
    await pg.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    await pg.claim_tasks("job-1", "r1", 1)
    await pg.record_attempts("job-1", [start(1)])
    await pg.set_job_status("job-1", JobStatus.CANCELLED, 2050.0, error="by user")
    # The runner ends the job as it saw it: it still held it, and lets its tasks go.
    assert await pg.release_job("job-1", "r1", JobStatus.COMPLETED, 2060.0) is True
    got = await pg.get_job("job-1")
    assert (got.status, got.finished_at, got.error) == (JobStatus.CANCELLED, 2050.0, "by user")
    task = await pg.get_task("job-1", "t1")
    assert (task.status, task.lease_owner) == (S.QUEUED, None)


async def test_attempt_outcomes_come_back_as_the_enum(pg: PostgresStore) -> None:
    await pg.create_job(job(), tasks(2))
    await pg.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    await pg.claim_tasks("job-1", "r1", 2)
    await pg.record_attempts("job-1", [start(1), finish(1, S.FAILED), start(2)])
    await pg.release_leases("job-1", "r1")
    outcomes = [a.outcome for t in ("t1", "t2") for a in await pg.list_attempts("job-1", t)]
    assert outcomes == [AttemptOutcome.FAILED, AttemptOutcome.INTERRUPTED]
    assert all(isinstance(outcome, AttemptOutcome) for outcome in outcomes)


async def test_an_outcome_that_is_no_attempt_outcome_writes_nothing(pg: PostgresStore) -> None:
    await pg.create_job(job(), tasks(1))
    await pg.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    await pg.claim_tasks("job-1", "r1", 1)
    with pytest.raises(KeyError):
        await pg.record_attempts("job-1", [start(1), finish(1, attempt_outcome="done")])
    assert (await pg.get_task("job-1", "t1")).status is S.QUEUED
    assert await pg.list_attempts("job-1", "t1") == []


def follows_the_table(before: TaskStatus, after: TaskStatus) -> bool:
    """Whether the log may show ``before`` then ``after``.

    A start and its end written in one group commit log once, straight from
    the claimed state to the end: the step through running is not logged.
    """
    if after in TASK_TRANSITIONS[before]:
        return True
    return S.RUNNING in TASK_TRANSITIONS[before] and after in TASK_TRANSITIONS[S.RUNNING]


@pytest.mark.parametrize("seed", [10, 11, 12])
async def test_every_logged_change_of_a_random_workload_follows_the_table(
    pg: PostgresStore, seed: int
) -> None:
    rng = random.Random(seed)
    specs = random_job(rng, 40)
    await pg.create_job(job(), specs)
    await pg.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    claimed: dict[str, str] = {}
    for step in range(150):
        await random_step(rng, pg, 10.0 * step, claimed)
    last = {spec.id: S.PENDING if spec.depends_on else S.QUEUED for spec in specs}
    changes = await pg.list_task_changes("job-1", limit=100_000)
    assert changes
    for change in changes:
        before = last[change.task_id]
        assert follows_the_table(before, change.status), (before, change)
        last[change.task_id] = change.status
