"""The SQLite store's side of the state machine: every status it sets passes model's gate.

Each statement that changes a status admits some current statuses in its
WHERE clause (see ``queries.sql``); each (admitted, new) pair goes through
``model.check_task_transition`` or ``model.check_job_transition``, once per
process: at import for a statement whose new status is fixed, at the first
use of a new status for one that binds it. So the gate costs nothing per row.
A status that stays the same is no change and is not checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from taskfleet.errors import InvalidTransition
from taskfleet.model import JobStatus, TaskStatus, check_job_transition, check_task_transition
from taskfleet.store.common.rows import encode_json

__all__ = [
    "TaskStatusGate",
    "check_job_changes_to",
    "check_task_changes_to",
    "job_statuses_that_may_become",
]


def check_task_changes_to(admitted: Iterable[TaskStatus], new: TaskStatus) -> None:
    """Check each task change from an ``admitted`` status to ``new`` (InvalidTransition)."""
    for current in admitted:
        if current is not new:
            check_task_transition(current, new)


def check_job_changes_to(admitted: Iterable[JobStatus], new: JobStatus) -> None:
    """Check each job change from an ``admitted`` status to ``new`` (InvalidTransition)."""
    for current in admitted:
        if current is not new:
            check_job_transition(current, new)


class TaskStatusGate(dict[TaskStatus, str]):
    """The SQL value of each status a statement binds, its changes checked at first use.

    ``admitted`` are the statuses the statement's WHERE clause lets it change.
    Looking up a status not seen yet checks every change from them to it
    (InvalidTransition if one is forbidden); later lookups are a plain dict
    lookup, as cheap as the enum's value on the hot path.
    """

    def __init__(self, admitted: Iterable[TaskStatus]) -> None:
        super().__init__()
        self.admitted = tuple(admitted)

    def __missing__(self, new: TaskStatus) -> str:
        check_task_changes_to(self.admitted, new)
        self[new] = new.value
        return new.value


@cache
def job_statuses_that_may_become(new: JobStatus) -> str:
    """The statuses the table lets a job leave for ``new``, ``new`` included, as a JSON list.

    What a job status change without a fixed origin (``release_job``,
    ``set_job_status``) admits in its WHERE clause: a change the table
    forbids (a release that lost a race with a cancel) then changes nothing.
    """
    admitted = [new.value]
    for current in JobStatus:
        try:
            check_job_changes_to([current], new)
        except InvalidTransition:
            continue
        if current is not new:
            admitted.append(current.value)
    return encode_json(admitted)
