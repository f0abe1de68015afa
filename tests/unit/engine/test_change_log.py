"""Every task's ``running`` state reaches the change log behind the event streams, in
every store: also when an attempt's start and end are written in one group commit."""

from __future__ import annotations

import pytest_asyncio

from taskfleet.model import (
    AttemptFinished,
    AttemptOutcome,
    Job,
    JobOptions,
    JobStatus,
    RunnerInfo,
    TaskSpec,
    TaskStatus,
)
from taskfleet.store.base import Store

S = TaskStatus


@pytest_asyncio.fixture
async def store(each_store: Store) -> Store:
    """Each kind of store, running job ``j`` of tasks t1 and t2, both claimed."""
    job = Job("j", "j", JobStatus.QUEUED, JobOptions(), created_at=50.0, total=0)
    specs = [TaskSpec(id=f"t{seq}", seq=seq, kind="simulate", spec={}) for seq in (1, 2)]
    await each_store.create_job(job, specs)
    runner = RunnerInfo("r1", "elsewhere", 4242, 99.0, heartbeat_at=100.0, lease_s=30)
    await each_store.acquire_job("j", runner, [JobStatus.QUEUED])
    await each_store.claim_tasks("j", "r1", 10)
    return each_store


def whole_attempt(seq: int, attempt: int, status: TaskStatus) -> AttemptFinished:
    """A fast attempt: its start and its end in one update."""
    outcome = AttemptOutcome.SUCCEEDED if status is S.SUCCEEDED else AttemptOutcome.FAILED
    at = 100.0 + attempt
    return AttemptFinished(
        seq, attempt, status, outcome, at + 0.1, 0.1, 0, runner_id="r1", started_at=at
    )


async def _changes(store: Store, task_id: str) -> list[tuple[TaskStatus, int]]:
    changes = await store.list_task_changes("j")
    return [(c.status, c.attempt) for c in changes if c.task_id == task_id]


async def test_a_fast_attempt_shows_running_before_its_end(store: Store) -> None:
    await store.record_attempts("j", [whole_attempt(1, 1, S.SUCCEEDED)])

    assert await _changes(store, "t1") == [(S.RUNNING, 1), (S.SUCCEEDED, 1)]
    seqs = [change.change_seq for change in await store.list_task_changes("j")]
    assert seqs == sorted(set(seqs))


async def test_fast_failures_that_wait_for_a_retry_show_each_attempt(store: Store) -> None:
    await store.record_attempts("j", [whole_attempt(2, 1, S.PENDING)])
    await store.record_attempts("j", [whole_attempt(2, 2, S.PENDING)])
    await store.record_attempts("j", [whole_attempt(2, 3, S.FAILED)])

    assert await _changes(store, "t2") == [
        (S.RUNNING, 1),
        (S.PENDING, 1),
        (S.RUNNING, 2),
        (S.PENDING, 2),
        (S.RUNNING, 3),
        (S.FAILED, 3),
    ]
