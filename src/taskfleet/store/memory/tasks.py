"""One task's state changes in the memory store: plain functions on its records.

Split from ``memory`` so that module holds only the Store methods.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from taskfleet.model import (
    FINAL_TASK_STATES,
    Attempt,
    AttemptFinished,
    AttemptStarted,
    Task,
    TaskSpec,
    TaskStatus,
)
from taskfleet.store.memory.graph import JobTasks, satisfy_dependants, skip_dependants


def json_copy(value: Any) -> Any:
    # The same encoding as the SQLite store, so both return equal values.
    return json.loads(json.dumps(value, default=str))


def new_task(job_id: str, spec: TaskSpec, depends_on: tuple[str, ...]) -> Task:
    # TaskSpec's fields are a subset of Task's, under the same names.
    given = spec._asdict()
    status = TaskStatus.PENDING if depends_on else TaskStatus.QUEUED
    return Task(**{**given, "job_id": job_id, "status": status, "spec": json_copy(spec.spec)})


def copy_task(task: Task) -> Task:
    return replace(task, spec=json_copy(task.spec), result=json_copy(task.result))


def start_attempt(job_tasks: JobTasks, task: Task, started: AttemptStarted) -> None:
    task.attempts = started.attempt
    task.lease_owner = started.runner_id
    task.started_at, task.finished_at = started.started_at, None
    job_tasks.set_status(task, TaskStatus.RUNNING)
    job_tasks.attempts.setdefault(task.seq, {})[started.attempt] = Attempt(
        task_id=task.id,
        number=started.attempt,
        runner_id=started.runner_id,
        started_at=started.started_at,
    )


def finish_attempt(
    job_tasks: JobTasks, task: Task, finished: AttemptFinished, claimed_by: str | None
) -> list[str]:
    attempts = job_tasks.attempts.setdefault(task.seq, {})
    if task.lease_owner is None:
        task.lease_owner = claimed_by
    opened = attempts.get(finished.attempt) or Attempt(
        task_id=task.id,
        number=finished.attempt,
        runner_id=task.lease_owner or "",
        started_at=finished.finished_at - finished.duration_s,
    )
    attempts[finished.attempt] = replace(
        opened,
        finished_at=finished.finished_at,
        outcome=finished.attempt_outcome,
        error=finished.error,
    )
    task.error, task.result = finished.error, json_copy(finished.result)
    task.finished_at, task.duration_s = finished.finished_at, finished.duration_s
    task.failures, task.not_before = finished.failures, finished.not_before
    job_tasks.set_status(task, finished.status)
    if finished.status in FINAL_TASK_STATES or finished.status is TaskStatus.QUEUED:
        task.lease_owner = None
    if finished.status is TaskStatus.SUCCEEDED:
        satisfy_dependants(job_tasks, task.seq)
    elif finished.status in FINAL_TASK_STATES:
        return skip_dependants(job_tasks, task, finished.finished_at)
    return []


def interrupt_attempts(job_tasks: JobTasks, seq: int, now: float) -> None:
    attempts = job_tasks.attempts.get(seq, {})
    for number, attempt in attempts.items():
        if attempt.finished_at is None:
            attempts[number] = replace(attempt, finished_at=now, outcome="interrupted")
