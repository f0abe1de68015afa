"""The states of jobs and tasks and THE table of changes between them.

Every store passes each status change it makes through
``check_task_transition`` or ``check_job_transition`` (for a bulk SQL
statement: once per (from, to) pair its WHERE clause admits); the store
contract suite checks every logged task change against ``TASK_TRANSITIONS``.
A status that stays the same is no change: it is neither logged nor checked.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from taskfleet.errors import InvalidTransition


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_JOB_STATES


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in FINAL_TASK_STATES


FINAL_TASK_STATES = frozenset(
    {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED}
)
# What `retry JOB` runs again.
SELECTIVE_RETRY_TASK_STATES = frozenset(
    {TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED}
)
# The states a task is stored in: pending while it waits for dependencies, else queued.
TASK_CREATION_STATES = frozenset({TaskStatus.PENDING, TaskStatus.QUEUED})
_FINAL_JOB_STATES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

_T = TaskStatus
TASK_TRANSITIONS: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    # pending: waiting for dependencies or a retry time
    _T.PENDING: frozenset({_T.QUEUED, _T.RUNNING, _T.SKIPPED, _T.CANCELLED, _T.FAILED}),
    _T.QUEUED: frozenset({_T.PENDING, _T.RUNNING, _T.SKIPPED, _T.CANCELLED}),
    # running -> queued is a crash or an interrupt: the attempt does not count
    _T.RUNNING: frozenset({_T.SUCCEEDED, _T.FAILED, _T.CANCELLED, _T.PENDING, _T.QUEUED}),
    # final states reopen only through retry or a central validation, which may
    # reject any ended task (it becomes failed, then reopens)
    _T.SUCCEEDED: frozenset({_T.FAILED, _T.QUEUED, _T.PENDING}),
    _T.FAILED: frozenset({_T.QUEUED, _T.PENDING}),
    _T.CANCELLED: frozenset({_T.FAILED, _T.QUEUED, _T.PENDING}),
    _T.SKIPPED: frozenset({_T.FAILED, _T.QUEUED, _T.PENDING}),
}

_J = JobStatus
JOB_TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    _J.QUEUED: frozenset({_J.RUNNING, _J.CANCELLED}),
    _J.RUNNING: frozenset({_J.COMPLETED, _J.FAILED, _J.CANCELLED, _J.INTERRUPTED}),
    _J.INTERRUPTED: frozenset({_J.RUNNING, _J.CANCELLED, _J.QUEUED}),
    _J.COMPLETED: frozenset({_J.RUNNING, _J.QUEUED}),
    _J.FAILED: frozenset({_J.RUNNING, _J.QUEUED}),
    _J.CANCELLED: frozenset({_J.RUNNING, _J.QUEUED}),
}


def task_may_change(current: TaskStatus, new: TaskStatus) -> bool:
    """Whether ``TASK_TRANSITIONS`` lets a task go ``current`` -> ``new`` (staying always may)."""
    return new is current or new in TASK_TRANSITIONS[current]


def check_task_transition(current: TaskStatus, new: TaskStatus) -> None:
    """Raise InvalidTransition unless ``TASK_TRANSITIONS`` lets a task go ``current`` -> ``new``.

    The one gate every store passes its task changes through: for a bulk SQL
    change, once per (from, to) pair its WHERE clause admits. ``current is
    new`` passes: a status that stays is no change.
    """
    if not task_may_change(current, new):
        raise InvalidTransition(f"task state {current.value} -> {new.value} is not allowed")


def attempt_may_end(current: TaskStatus, new: TaskStatus) -> bool:
    """Whether an attempt's end may take a task ``current`` -> ``new``.

    The end of an attempt implies its start: a task that is not ``running``
    (a store wrote a fast attempt's start and end at once, or got an end whose
    start was never recorded) goes ``current`` -> ``running`` -> ``new``.
    """
    return task_may_change(current, TaskStatus.RUNNING) and task_may_change(TaskStatus.RUNNING, new)


def check_attempt_end(current: TaskStatus, new: TaskStatus) -> None:
    """Raise InvalidTransition unless an attempt's end may take a task ``current`` -> ``new``."""
    if not attempt_may_end(current, new):
        raise InvalidTransition(
            f"an attempt's end may not take a task from {current.value} to {new.value}"
        )


def job_may_change(current: JobStatus, new: JobStatus) -> bool:
    """Whether ``JOB_TRANSITIONS`` lets a job go ``current`` -> ``new`` (staying always may)."""
    return new is current or new in JOB_TRANSITIONS[current]


def check_job_transition(current: JobStatus, new: JobStatus) -> None:
    """Raise InvalidTransition unless ``JOB_TRANSITIONS`` lets a job go ``current`` -> ``new``.

    ``current is new`` passes: a status that stays is no change.
    """
    if not job_may_change(current, new):
        raise InvalidTransition(f"job state {current.value} -> {new.value} is not allowed")


def task_status_at_creation(depends_on: Sequence[str]) -> TaskStatus:
    """The status a task is stored in: ``pending`` while it has dependencies, else ``queued``."""
    return TaskStatus.PENDING if depends_on else TaskStatus.QUEUED
