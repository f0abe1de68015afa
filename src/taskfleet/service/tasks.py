"""Reading a job's tasks: every task page by page, one task with its attempts, changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import Any

from taskfleet.model import Attempt, Task, TaskChange, TaskStatus
from taskfleet.store.base import Store

__all__ = ["failed_record", "iter_tasks", "task_changes", "task_detail"]

_PAGE = 1000


async def iter_tasks(
    store: Store, job_id: str, statuses: Collection[TaskStatus] | None = None
) -> AsyncIterator[Task]:
    """Every task of a job in input order, read page by page."""
    await store.get_job(job_id)
    after_seq = 0
    while True:
        page = await store.list_tasks(job_id, statuses=statuses, after_seq=after_seq, limit=_PAGE)
        if not page:
            return
        for task in page:
            yield task
        after_seq = page[-1].seq


def failed_record(task: Task) -> dict[str, Any]:
    """What `failed JOB` shows of one task."""
    return {
        "id": task.id,
        "kind": task.kind,
        "status": task.status.value,
        "attempts": task.attempts,
        "error": task.error,
        "description": task.description,
        "profile": task.profile,
    }


async def task_detail(store: Store, job_id: str, task_id: str) -> tuple[Task, list[Attempt]]:
    """One task and every recorded attempt of it."""
    task = await store.get_task(job_id, task_id)
    return task, await store.list_attempts(job_id, task_id)


async def task_changes(
    store: Store, job_id: str, *, after_change_seq: int = 0, limit: int = 500
) -> list[TaskChange]:
    """The job's task state changes after a cursor (for event streams)."""
    return await store.list_task_changes(job_id, after_change_seq=after_change_seq, limit=limit)
