"""The writes the runner batches into group commits, and the log of task changes.

Updates name their task by ``seq`` (the key inside a job); the change log,
read by interfaces, by ``task_id`` (the task's id). NamedTuples: immutable
like the rest of the model, and cheap to build on the per-task hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from taskfleet.errors import InvalidTransition
from taskfleet.model.states import (
    TASK_CREATION_STATES,
    TaskStatus,
    check_attempt_end,
    task_may_change,
)
from taskfleet.model.task import AttemptOutcome


class AttemptStarted(NamedTuple):
    """The start of an attempt: the task becomes ``running``, leased to ``runner_id``."""

    seq: int
    attempt: int  # 1-based attempt number
    runner_id: str
    started_at: float


class AttemptFinished(NamedTuple):
    """The end of an attempt and the task's state after it.

    ``status`` is the task's new state: a final one, ``pending`` (a retry is
    due at ``not_before``, the runner keeps its lease) or ``queued`` (the
    attempt was interrupted and does not count; the lease is released).
    """

    seq: int
    attempt: int
    status: TaskStatus
    attempt_outcome: AttemptOutcome
    finished_at: float
    duration_s: float
    failures: int
    result: Any = None
    error: str | None = None
    not_before: float | None = None
    # Set when this update also carries the attempt's start: the attempt began
    # and ended between two group commits (a fast task), one row write for both.
    runner_id: str | None = None
    started_at: float | None = None


TaskUpdate = AttemptStarted | AttemptFinished


class TaskChange(NamedTuple):
    """One state change of a task, as the store logged it (for event streams).

    ``change_seq`` increases across the whole store with every change, so a
    reader that remembers the last one it saw misses nothing and sees nothing twice.
    """

    change_seq: int
    task_id: str  # the task's id (its name), not its seq
    status: TaskStatus
    attempt: int
    error: str | None = None
    finished_at: float | None = None  # when a final status was reached


def check_task_changes(created_as: TaskStatus, changes: Iterable[TaskChange]) -> None:
    """Raise InvalidTransition unless one task's logged changes follow ``TASK_TRANSITIONS``.

    ``created_as`` is the status the task was stored in; ``changes`` its log,
    oldest first. A store may write an attempt's start and end at once and log
    one change for both: a change passes if the table allows it directly or
    as an attempt's end (``check_attempt_end``).
    """
    if created_as not in TASK_CREATION_STATES:
        raise InvalidTransition(f"a task is never stored {created_as.value}")
    current = created_as
    for change in changes:
        if not task_may_change(current, change.status):
            check_attempt_end(current, change.status)
        current = change.status
