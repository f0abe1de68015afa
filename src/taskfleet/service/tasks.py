"""Reading a job's tasks: every task page by page, one task with its attempts, changes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Collection
from typing import Any

from taskfleet.model import Attempt, Task, TaskChange, TaskStatus
from taskfleet.store.base import Store

__all__ = [
    "failed_record",
    "failure_reason",
    "iter_tasks",
    "last_meaningful_line",
    "task_changes",
    "task_detail",
]

_PAGE = 1000
# The error a shell task's non-zero exit leaves: "exit code 2", maybe ": <a line>".
_EXIT_CODE_ERROR = re.compile(r"^exit code (-?\d+)(?::|$)")
_TERMINAL_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Rules and frames around a line, as pytest's "==== 1 failed in 0.1s ====".
_DECORATION = "=-*#~_+|<> \t"
_MAX_REASON_CHARS = 500


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


def last_meaningful_line(text: str) -> str:
    """The last line of ``text`` that says something: no colour codes, no rule of ``=``."""
    for line in reversed(text.splitlines()):
        cleaned = _TERMINAL_ESCAPE.sub("", line).strip(_DECORATION)
        if any(char.isalnum() for char in cleaned):
            return cleaned[:_MAX_REASON_CHARS]
    return ""


def failure_reason(task: Task) -> str | None:
    """A task's error as people want to read it.

    A command that exited non-zero says why in its output, and tools differ
    in where: the last meaningful line of stderr, else of stdout (pytest puts
    its verdict there), follows ``exit code N``. Rendered from the stored
    output tails, so what is stored stays as the kind wrote it.
    """
    match = _EXIT_CODE_ERROR.match(task.error or "")
    result = task.result
    if match is None or not isinstance(result, dict):
        return task.error
    for stream in ("stderr", "stdout"):
        text = result.get(stream)
        line = last_meaningful_line(text) if isinstance(text, str) else ""
        if line:
            return f"exit code {match.group(1)}: {line}"
    return task.error


def failed_record(task: Task) -> dict[str, Any]:
    """What `failed JOB` shows of one task."""
    return {
        "id": task.id,
        "kind": task.kind,
        "status": task.status.value,
        "attempts": task.attempts,
        "error": failure_reason(task),
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
