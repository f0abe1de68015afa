"""The memory store makes no change the state machine forbids.

An explicit change the table forbids raises InvalidTransition and changes
nothing; a runner's record that arrives after the store changed its task
(a cancel) is a stale record: its attempt is recorded, its task keeps its state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from taskfleet.errors import InvalidTransition
from taskfleet.model import AttemptOutcome, JobStatus, TaskStatus
from taskfleet.store.memory.store import MemoryStore

from .conftest import assert_changes_follow_the_state_machine, finish, job, runner, start, task

S = TaskStatus


@pytest_asyncio.fixture
async def memory() -> AsyncIterator[MemoryStore]:
    store = MemoryStore()
    await store.open()
    yield store
    await assert_changes_follow_the_state_machine(store)
    await store.close()


async def test_a_forbidden_job_change_raises_and_changes_nothing(memory: MemoryStore) -> None:
    await memory.create_job(job(), [task("t1", 1)])
    with pytest.raises(InvalidTransition, match="queued -> interrupted"):
        await memory.set_job_status("job-1", JobStatus.INTERRUPTED, 5.0)
    await memory.acquire_job("job-1", runner(), [JobStatus.QUEUED])
    with pytest.raises(InvalidTransition, match="running -> queued"):
        await memory.set_job_status("job-1", JobStatus.QUEUED, 5.0)
    got = await memory.get_job("job-1")
    assert (got.status, got.finished_at) == (JobStatus.RUNNING, None)


async def test_failing_a_task_that_may_not_fail_changes_none_of_them(memory: MemoryStore) -> None:
    await memory.create_job(job(), [task("a", 1), task("b", 2)])
    await memory.claim_tasks("job-1", "r1", 1)
    await memory.record_attempts("job-1", [start(1), finish(1)])
    with pytest.raises(InvalidTransition, match="queued -> failed"):
        await memory.fail_tasks("job-1", ["a", "b"], "validation failed")
    assert [(t.id, t.status, t.error) for t in await memory.list_tasks("job-1")] == [
        ("a", S.SUCCEEDED, None),
        ("b", S.QUEUED, None),
    ]


async def test_a_record_for_a_task_cancelled_under_its_runner_is_stale(
    memory: MemoryStore,
) -> None:
    await memory.create_job(job(), [task("t1", 1), task("t2", 2)])
    await memory.claim_tasks("job-1", "r1", 2)
    # The runner started both; its starts reach the store after a cancel.
    await memory.cancel_open_tasks("job-1", 2005.0)
    await memory.record_attempts("job-1", [start(1), start(2), finish(1, S.CANCELLED)])
    await memory.record_attempts("job-1", [finish(2, S.SUCCEEDED, result="late")])
    for task_id in ("t1", "t2"):
        stored = await memory.get_task("job-1", task_id)
        assert (stored.status, stored.attempts, stored.result) == (S.CANCELLED, 0, None)
    [late] = await memory.list_attempts("job-1", "t2")
    assert (late.outcome, late.finished_at) == (AttemptOutcome.SUCCEEDED, 2012.5)
    assert [c.status for c in await memory.list_task_changes("job-1")] == [S.CANCELLED] * 2


async def test_a_failed_dependency_leaves_a_running_dependant_to_its_runner(
    memory: MemoryStore,
) -> None:
    await memory.create_job(job(), [task("a", 1), task("b", 2, depends_on=("a",))])
    await memory.claim_tasks("job-1", "r1", 1)
    await memory.record_attempts("job-1", [start(1), finish(1)])
    await memory.claim_tasks("job-1", "r1", 1)
    await memory.record_attempts("job-1", [start(2)])
    # Validation rejects a while b runs; a runs again and fails for good.
    await memory.fail_tasks("job-1", ["a"], "validation failed")
    await memory.reopen_tasks("job-1", task_ids=["a"])
    await memory.claim_tasks("job-1", "r1", 1)
    skipped = await memory.record_attempts("job-1", [start(1, attempt=2), finish(1, S.FAILED)])
    assert skipped == []
    assert (await memory.get_task("job-1", "b")).status is S.RUNNING


async def test_a_job_cancelled_while_its_runner_ends_stays_cancelled(memory: MemoryStore) -> None:
    await memory.create_job(job(), [task("t1", 1)])
    await memory.acquire_job("job-1", runner(), [JobStatus.QUEUED])
    await memory.set_job_status("job-1", JobStatus.CANCELLED, 2050.0)
    assert await memory.release_job("job-1", "r1", JobStatus.COMPLETED, 2060.0)
    got = await memory.get_job("job-1")
    assert (got.status, got.finished_at) == (JobStatus.CANCELLED, 2060.0)
