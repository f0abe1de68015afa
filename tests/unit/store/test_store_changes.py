"""The Store contract, part two: the log of task state changes behind event streams.

Every store in ``STORE_FACTORIES`` runs these, like ``test_store_contract``.
"""

from __future__ import annotations

import pytest

from taskfleet.errors import JobNotFound
from taskfleet.model import JobStatus, TaskChange, TaskStatus
from taskfleet.store.base import Store

from .conftest import finish, job, runner, start, task, tasks

S = TaskStatus


def last_status(changes: list[TaskChange]) -> dict[str, TaskStatus]:
    return {change.task_id: change.status for change in changes}


async def test_a_new_job_has_no_changes(store: Store) -> None:
    await store.create_job(job(), tasks(2))
    assert await store.list_task_changes("job-1") == []


async def test_attempts_are_logged_in_order_with_growing_numbers(store: Store) -> None:
    await store.create_job(job(), tasks(2))
    await store.acquire_job("job-1", runner(), [JobStatus.QUEUED])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1)])
    await store.record_attempts("job-1", [finish(1, S.FAILED, error="boom")])
    await store.record_attempts("job-1", [start(2), finish(2)])
    changes = await store.list_task_changes("job-1")
    seqs = [change.change_seq for change in changes]
    assert seqs == sorted(set(seqs))
    assert changes[0] == TaskChange(changes[0].change_seq, "t1", S.RUNNING, 1, None)
    assert changes[1] == TaskChange(changes[1].change_seq, "t1", S.FAILED, 1, "boom", 2012.5)
    # A start and its end in one group commit may show as one change.
    assert changes[-1].task_id == "t2"
    assert changes[-1].status is S.SUCCEEDED
    assert changes[-1].attempt == 1


async def test_changes_page_after_a_cursor(store: Store) -> None:
    await store.create_job(job(), tasks(5))
    await store.acquire_job("job-1", runner(), [JobStatus.QUEUED])
    await store.claim_tasks("job-1", "r1", 10)
    for seq in range(1, 6):
        await store.record_attempts("job-1", [start(seq)])
    first = await store.list_task_changes("job-1", limit=2)
    rest = await store.list_task_changes("job-1", after_change_seq=first[-1].change_seq)
    assert [c.task_id for c in first + rest] == ["t1", "t2", "t3", "t4", "t5"]
    assert await store.list_task_changes("job-1", after_change_seq=rest[-1].change_seq) == []


async def test_changes_of_other_jobs_are_not_listed(store: Store) -> None:
    await store.create_job(job("a"), tasks(1))
    await store.create_job(job("b", created_at=1001.0), tasks(1))
    await store.cancel_open_tasks("a", 3000.0)
    await store.cancel_open_tasks("b", 3001.0)
    only_b = await store.list_task_changes("b")
    assert [(c.task_id, c.status) for c in only_b] == [("t1", S.CANCELLED)]
    only_a = await store.list_task_changes("a")
    assert only_a[0].change_seq < only_b[0].change_seq


async def test_cancel_skip_reopen_and_validation_are_logged(store: Store) -> None:
    specs = [task("a", 1), task("b", 2, depends_on=("a",)), task("c", 3)]
    await store.create_job(job(), specs)
    await store.acquire_job("job-1", runner(), [JobStatus.QUEUED])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(3), finish(3)])
    mark = (await store.list_task_changes("job-1"))[-1].change_seq
    await store.record_attempts("job-1", [start(1), finish(1, S.FAILED, error="x")])
    failed = last_status(await store.list_task_changes("job-1", after_change_seq=mark))
    assert failed == {"a": S.FAILED, "b": S.SKIPPED}
    mark = (await store.list_task_changes("job-1"))[-1].change_seq
    await store.reopen_tasks("job-1", statuses=[S.FAILED, S.SKIPPED])
    reopened = last_status(await store.list_task_changes("job-1", after_change_seq=mark))
    assert reopened == {"a": S.QUEUED, "b": S.PENDING}
    await store.fail_tasks("job-1", ["c"], "validation failed")  # validation judges ended tasks
    await store.cancel_open_tasks("job-1", 3000.0)
    changes = await store.list_task_changes("job-1")
    assert last_status(changes) == {"a": S.CANCELLED, "b": S.CANCELLED, "c": S.FAILED}
    assert changes[-1].error == "cancelled"


async def test_released_running_tasks_are_logged(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    await store.acquire_job("job-1", runner(), [JobStatus.QUEUED])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1)])
    await store.release_leases("job-1", "r1")
    changes = await store.list_task_changes("job-1")
    assert [(c.status, c.attempt) for c in changes] == [(S.RUNNING, 1), (S.QUEUED, 1)]


async def test_changes_of_a_missing_job(store: Store) -> None:
    with pytest.raises(JobNotFound):
        await store.list_task_changes("nope")
