"""The transition tables and their checks, over every pair of states."""

from __future__ import annotations

import itertools

import pytest

from taskfleet.errors import InvalidTransition
from taskfleet.model import (
    FINAL_TASK_STATES,
    JOB_TRANSITIONS,
    TASK_CREATION_STATES,
    TASK_TRANSITIONS,
    JobStatus,
    TaskChange,
    TaskStatus,
    attempt_may_end,
    check_attempt_end,
    check_job_transition,
    check_task_changes,
    check_task_transition,
    task_may_change,
    task_status_at_creation,
)

T = TaskStatus
J = JobStatus

# The table as SPEC section 2 and 3 describe it, written out pair by pair.
ALLOWED_TASK_CHANGES = {
    (T.PENDING, T.QUEUED),  # dependencies met, or a retry is due
    (T.PENDING, T.RUNNING),  # a retry starts
    (T.PENDING, T.SKIPPED),
    (T.PENDING, T.CANCELLED),
    (T.PENDING, T.FAILED),
    (T.QUEUED, T.PENDING),  # reopened with an unmet dependency
    (T.QUEUED, T.RUNNING),
    (T.QUEUED, T.SKIPPED),
    (T.QUEUED, T.CANCELLED),
    (T.RUNNING, T.SUCCEEDED),
    (T.RUNNING, T.FAILED),
    (T.RUNNING, T.CANCELLED),
    (T.RUNNING, T.PENDING),  # a retry is due later
    (T.RUNNING, T.QUEUED),  # interrupted: runs again without spending a retry
    (T.SUCCEEDED, T.FAILED),  # central validation rejects it
    (T.SUCCEEDED, T.QUEUED),
    (T.SUCCEEDED, T.PENDING),
    (T.FAILED, T.QUEUED),  # retry, or a validation round
    (T.FAILED, T.PENDING),
    (T.CANCELLED, T.FAILED),
    (T.CANCELLED, T.QUEUED),
    (T.CANCELLED, T.PENDING),
    (T.SKIPPED, T.FAILED),
    (T.SKIPPED, T.QUEUED),
    (T.SKIPPED, T.PENDING),
}
ALLOWED_JOB_CHANGES = {
    (J.QUEUED, J.RUNNING),
    (J.QUEUED, J.CANCELLED),
    (J.RUNNING, J.COMPLETED),
    (J.RUNNING, J.FAILED),
    (J.RUNNING, J.CANCELLED),
    (J.RUNNING, J.INTERRUPTED),
    (J.INTERRUPTED, J.RUNNING),
    (J.INTERRUPTED, J.CANCELLED),
    (J.INTERRUPTED, J.QUEUED),  # a worker hands its job back
    (J.COMPLETED, J.RUNNING),  # retry
    (J.COMPLETED, J.QUEUED),
    (J.FAILED, J.RUNNING),
    (J.FAILED, J.QUEUED),
    (J.CANCELLED, J.RUNNING),
    (J.CANCELLED, J.QUEUED),
}


def test_the_tables_are_the_documented_ones() -> None:
    assert {(a, b) for a, targets in TASK_TRANSITIONS.items() for b in targets} == (
        ALLOWED_TASK_CHANGES
    )
    assert {(a, b) for a, targets in JOB_TRANSITIONS.items() for b in targets} == (
        ALLOWED_JOB_CHANGES
    )
    assert set(TASK_TRANSITIONS) == set(TaskStatus)
    assert set(JOB_TRANSITIONS) == set(JobStatus)


@pytest.mark.parametrize(("current", "new"), list(itertools.product(TaskStatus, TaskStatus)))
def test_every_task_pair(current: TaskStatus, new: TaskStatus) -> None:
    allowed = (current, new) in ALLOWED_TASK_CHANGES or current is new
    assert task_may_change(current, new) is allowed
    if allowed:
        check_task_transition(current, new)
    else:
        with pytest.raises(InvalidTransition, match=f"{current.value} -> {new.value}"):
            check_task_transition(current, new)


@pytest.mark.parametrize(("current", "new"), list(itertools.product(JobStatus, JobStatus)))
def test_every_job_pair(current: JobStatus, new: JobStatus) -> None:
    if (current, new) in ALLOWED_JOB_CHANGES or current is new:
        check_job_transition(current, new)
    else:
        with pytest.raises(InvalidTransition, match=f"{current.value} -> {new.value}"):
            check_job_transition(current, new)


@pytest.mark.parametrize(("current", "new"), list(itertools.product(TaskStatus, TaskStatus)))
def test_every_attempt_end(current: TaskStatus, new: TaskStatus) -> None:
    # An attempt's end implies its start: only a task that may run may end an attempt.
    may_run = current in (T.PENDING, T.QUEUED, T.RUNNING)
    allowed = may_run and (new is T.RUNNING or (T.RUNNING, new) in ALLOWED_TASK_CHANGES)
    assert attempt_may_end(current, new) is allowed
    if allowed:
        check_attempt_end(current, new)
    else:
        with pytest.raises(InvalidTransition):
            check_attempt_end(current, new)


def test_a_final_task_never_runs_again_without_being_reopened() -> None:
    for final in FINAL_TASK_STATES:
        assert not task_may_change(final, T.RUNNING)


def test_a_task_is_stored_pending_only_while_it_has_dependencies() -> None:
    assert task_status_at_creation(()) is T.QUEUED
    assert task_status_at_creation(("a",)) is T.PENDING
    assert {T.PENDING, T.QUEUED} == TASK_CREATION_STATES


def change(status: TaskStatus, attempt: int = 1) -> TaskChange:
    return TaskChange(0, "t1", status, attempt)


def test_a_change_log_follows_the_table() -> None:
    check_task_changes(T.QUEUED, [])
    check_task_changes(T.PENDING, [change(T.QUEUED, 0), change(T.RUNNING), change(T.SUCCEEDED)])
    check_task_changes(T.QUEUED, [change(T.RUNNING), change(T.QUEUED), change(T.CANCELLED)])
    # A start and its end written at once are logged as one change.
    check_task_changes(T.QUEUED, [change(T.SUCCEEDED), change(T.FAILED), change(T.QUEUED)])
    check_task_changes(T.QUEUED, [change(T.PENDING), change(T.FAILED, 2)])


@pytest.mark.parametrize(
    ("created_as", "statuses"),
    [
        (T.RUNNING, []),  # never stored running
        (T.SUCCEEDED, []),
        (T.QUEUED, [T.CANCELLED, T.SUCCEEDED]),  # a cancelled task runs only after a reopen
        (T.QUEUED, [T.RUNNING, T.SKIPPED]),
        (T.QUEUED, [T.SUCCEEDED, T.RUNNING]),
        (T.PENDING, [T.SKIPPED, T.CANCELLED]),
    ],
)
def test_a_change_log_that_breaks_the_table(
    created_as: TaskStatus, statuses: list[TaskStatus]
) -> None:
    with pytest.raises(InvalidTransition):
        check_task_changes(created_as, [change(status) for status in statuses])
