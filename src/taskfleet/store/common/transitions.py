"""The SQL stores' side of the state machine: the states a statement may change.

Every status-changing statement of a backend's ``queries.sql`` admits some
current states in its WHERE clause. The functions here pass each
(admitted, new) pair through ``model.check_task_transition`` or
``model.check_job_transition``: once per call or once per process, never
per row, and with no extra read. Two kinds of statements:

- ``checked_*_sources``: a statement that picks its rows *by state* (cancel
  what is open, release what runs, start what was claimed) names the states
  it changes; each pair must be allowed, else ``InvalidTransition`` is
  raised before anything is written (a bug in the statement).
- ``allowed_*_sources``: a statement that picks its rows *by identity or by
  the dependency graph* (fail the tasks a validation named, skip what is
  downstream, set one job's status) admits only the states the table lets
  a row leave for the target; a row in any other state is left as it is.
  The target itself is admitted: staying in a state is no change.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from taskfleet.model import (
    JobStatus,
    TaskStatus,
    check_job_transition,
    check_task_transition,
    job_may_change,
    task_may_change,
)

__all__ = [
    "TaskStatusGate",
    "allowed_job_sources",
    "allowed_task_sources",
    "checked_job_sources",
    "checked_task_sources",
]


def checked_task_sources(sources: Iterable[TaskStatus], target: TaskStatus) -> list[str]:
    """The values of ``sources``, each checked to be a task state that may become ``target``."""
    values = []
    for source in sources:
        if source is not target:
            check_task_transition(source, target)
        values.append(source.value)
    return values


def checked_job_sources(sources: Iterable[JobStatus], target: JobStatus) -> list[str]:
    """The values of ``sources``, each checked to be a job state that may become ``target``."""
    values = []
    for source in sources:
        if source is not target:
            check_job_transition(source, target)
        values.append(source.value)
    return values


def allowed_task_sources(target: TaskStatus) -> list[str]:
    """Every task state (value) the table lets a task leave for ``target``, and ``target``."""
    return list(_allowed_task_sources(target))


def allowed_job_sources(target: JobStatus) -> list[str]:
    """Every job state (value) the table lets a job leave for ``target``, and ``target``."""
    return list(_allowed_job_sources(target))


@cache
def _allowed_task_sources(target: TaskStatus) -> tuple[str, ...]:
    # Constant for a target: cached, so a statement pays for it once per process.
    return tuple(s.value for s in TaskStatus if task_may_change(s, target))


@cache
def _allowed_job_sources(target: JobStatus) -> tuple[str, ...]:
    return tuple(s.value for s in JobStatus if job_may_change(s, target))


class TaskStatusGate(dict[TaskStatus, str]):
    """The SQL value of each status a statement binds, its changes checked at first use.

    ``admitted`` are the statuses the statement's WHERE clause lets it change.
    Looking up a status not seen yet checks every change from them to it
    (InvalidTransition if one is forbidden); later lookups are a plain dict
    lookup, as cheap as the enum's value on the group-commit hot path.
    """

    def __init__(self, admitted: Iterable[TaskStatus]) -> None:
        super().__init__()
        self.admitted = tuple(admitted)

    def __missing__(self, new: TaskStatus) -> str:
        checked_task_sources(self.admitted, new)
        self[new] = new.value
        return new.value
