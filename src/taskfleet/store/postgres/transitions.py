"""The PostgreSQL store's side of the state machine: the states a statement may change.

Every statement of ``queries.sql`` that writes a task's or a job's status
takes its target state and the states it may take a row from as parameters
(``status = ANY(%(from_statuses)s)``); the functions here build that list,
passing each (from, to) pair through ``model.check_task_transition`` or
``model.check_job_transition`` once per call, not per row. The states are
computed in Python, so a check costs no round trip.

Two kinds of statements, two functions:

- ``checked_*_sources``: a statement that picks its rows *by state* (cancel
  what is open, release what runs, start what was claimed) names the states
  it changes. Each pair must be allowed: a forbidden one is a bug in the
  statement, and raises ``InvalidTransition`` before anything is written.
- ``allowed_*_sources``: a statement that picks its rows *by identity or by
  the dependency graph*, whatever state they are in (fail the tasks a
  validation named, skip what is downstream, set one job's status), admits
  only the states the table lets a row leave for the target. A row in any
  other state is left as it is. The target itself is admitted: a row
  already in it changes no state (the change log's trigger ignores it too).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from taskfleet.errors import InvalidTransition
from taskfleet.model import JobStatus, TaskStatus, check_job_transition, check_task_transition

__all__ = [
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
    # Asked of the gate itself, so the table has one reader; cached: it is constant.
    allowed = []
    for source in TaskStatus:
        try:
            checked_task_sources([source], target)
        except InvalidTransition:
            continue
        allowed.append(source.value)
    return tuple(allowed)


@cache
def _allowed_job_sources(target: JobStatus) -> tuple[str, ...]:
    allowed = []
    for source in JobStatus:
        try:
            checked_job_sources([source], target)
        except InvalidTransition:
            continue
        allowed.append(source.value)
    return tuple(allowed)
