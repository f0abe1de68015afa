"""One task's state changes in the memory store: plain functions on its records.

Split from ``store.py`` so that module holds only the Store methods.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from taskfleet.model import (
    FINAL_TASK_STATES,
    Attempt,
    AttemptFinished,
    AttemptOutcome,
    AttemptStarted,
    Task,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
    attempt_may_end,
    check_task_transition,
    task_may_change,
    task_status_at_creation,
)
from taskfleet.store.memory.graph import JobTasks, satisfy_dependants, skip_dependants


def json_copy(value: Any) -> Any:
    # The same encoding as the SQLite store, so both return equal values.
    return json.loads(json.dumps(value, default=str))


def new_task(job_id: str, spec: TaskSpec, depends_on: tuple[str, ...]) -> Task:
    # TaskSpec's fields are a subset of Task's, under the same names.
    given = spec._asdict()
    status = task_status_at_creation(depends_on)
    return Task(**{**given, "job_id": job_id, "status": status, "spec": json_copy(spec.spec)})


def copy_task(task: Task) -> Task:
    return replace(task, spec=json_copy(task.spec), result=json_copy(task.result))


def apply_update(
    job_tasks: JobTasks, task: Task, update: TaskUpdate, claimed_by: str | None
) -> list[str]:
    """Apply one attempt start or end to ``task``; return the ids of tasks newly skipped."""
    if isinstance(update, AttemptStarted):
        start_attempt(job_tasks, task, update)
        return []
    if update.runner_id is not None and update.started_at is not None:
        # A whole attempt: its start first.
        started = AttemptStarted(update.seq, update.attempt, update.runner_id, update.started_at)
        start_attempt(job_tasks, task, started)
    return finish_attempt(job_tasks, task, update, claimed_by)


def start_attempt(job_tasks: JobTasks, task: Task, started: AttemptStarted) -> None:
    """Open the attempt's record; the task becomes ``running``, unless its record is stale."""
    job_tasks.attempts.setdefault(task.seq, {})[started.attempt] = Attempt(
        task_id=task.id,
        number=started.attempt,
        runner_id=started.runner_id,
        started_at=started.started_at,
    )
    if not task_may_change(task.status, TaskStatus.RUNNING):
        return  # stale: the task was cancelled under its runner, whose records come later
    task.attempts = started.attempt
    task.lease_owner = started.runner_id
    task.started_at, task.finished_at = started.started_at, None
    job_tasks.set_status(task, TaskStatus.RUNNING)


def finish_attempt(
    job_tasks: JobTasks, task: Task, finished: AttemptFinished, claimed_by: str | None
) -> list[str]:
    """Close the attempt's record and give the task its new state, unless that is stale.

    Returns the ids of the tasks skipped because this one ended without success.
    """
    attempts = job_tasks.attempts.setdefault(task.seq, {})
    opened = attempts.get(finished.attempt) or Attempt(
        task_id=task.id,
        number=finished.attempt,
        runner_id=task.lease_owner or claimed_by or "",
        started_at=finished.finished_at - finished.duration_s,
    )
    attempts[finished.attempt] = replace(
        opened,
        finished_at=finished.finished_at,
        outcome=finished.attempt_outcome,
        error=finished.error,
    )
    if not attempt_may_end(task.status, finished.status):
        return []  # stale: the task was cancelled under its runner, whose records come later
    task.lease_owner = task.lease_owner or claimed_by
    task.error, task.result = finished.error, json_copy(finished.result)
    task.finished_at, task.duration_s = finished.finished_at, finished.duration_s
    task.failures, task.not_before = finished.failures, finished.not_before
    job_tasks.set_status(task, finished.status, ends_attempt=True)
    if finished.status in FINAL_TASK_STATES or finished.status is TaskStatus.QUEUED:
        task.lease_owner = None
    if finished.status is TaskStatus.SUCCEEDED:
        satisfy_dependants(job_tasks, task.seq)
    elif finished.status in FINAL_TASK_STATES:
        return skip_dependants(job_tasks, task, finished.finished_at)
    return []


def reopen_tasks(job_tasks: JobTasks, selected: list[Task]) -> None:
    """Make ``selected`` run again with fresh retries: ``queued``, or ``pending`` on unmet deps."""
    reopened = {task.seq for task in selected}
    unmet: dict[int, int] = {}
    for task in selected:
        deps = [job_tasks.by_seq[job_tasks.seq_of[dep]] for dep in set(task.depends_on)]
        # A dependency reopened here has not succeeded any more: it counts as unmet.
        unmet[task.seq] = sum(
            1 for dep in deps if dep.seq in reopened or dep.status is not TaskStatus.SUCCEEDED
        )
        check_task_transition(task.status, _reopened_status(unmet[task.seq]))
    for task in selected:
        job_tasks.unmet[task.seq] = unmet[task.seq]
        task.failures, task.error, task.result = 0, None, None
        task.not_before = task.lease_owner = task.finished_at = task.duration_s = None
        job_tasks.set_status(task, _reopened_status(unmet[task.seq]))


def _reopened_status(unmet: int) -> TaskStatus:
    return TaskStatus.PENDING if unmet else TaskStatus.QUEUED


def fail_tasks(job_tasks: JobTasks, selected: list[Task], error: str) -> None:
    """Mark ``selected`` failed with ``error``, all of them or (InvalidTransition) none."""
    for task in selected:
        check_task_transition(task.status, TaskStatus.FAILED)
    for task in selected:
        task.error, task.lease_owner = error, None
        job_tasks.set_status(task, TaskStatus.FAILED)


def interrupt_attempts(job_tasks: JobTasks, seq: int, now: float) -> None:
    attempts = job_tasks.attempts.get(seq, {})
    for number, attempt in attempts.items():
        if attempt.finished_at is None:
            attempts[number] = replace(attempt, finished_at=now, outcome=AttemptOutcome.INTERRUPTED)
