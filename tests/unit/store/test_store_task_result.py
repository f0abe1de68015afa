"""Contract: ``set_task_result`` replaces a task's result and nothing else (every store)."""

from __future__ import annotations

import pytest

from taskfleet.errors import JobNotFound, TaskNotFound
from taskfleet.model import TaskStatus
from taskfleet.store.base import Store

from .conftest import finish, job, start, tasks


async def test_set_task_result_replaces_the_result_and_keeps_the_rest(store: Store) -> None:
    await store.create_job(job(), tasks(2))
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1), finish(1, result={"merged": False})])
    before = await store.get_task("job-1", "t1")
    changes_before = await store.list_task_changes("job-1")
    await store.set_task_result("job-1", "t1", {"merged": True, "merged_commit": "abc"})
    after = await store.get_task("job-1", "t1")
    assert after.result == {"merged": True, "merged_commit": "abc"}
    assert (after.status, after.attempts, after.finished_at) == (
        TaskStatus.SUCCEEDED,
        before.attempts,
        before.finished_at,
    )
    assert (await store.get_task("job-1", "t2")).result is None
    assert await store.list_task_changes("job-1") == changes_before  # no status change


async def test_set_task_result_of_unknown_task_or_job_raises(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    with pytest.raises(TaskNotFound):
        await store.set_task_result("job-1", "nope", {})
    with pytest.raises(JobNotFound):
        await store.set_task_result("nope", "t1", {})
