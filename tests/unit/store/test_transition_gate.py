"""The SQL stores' transition gate (``store.common.transitions``), without a database."""

from __future__ import annotations

import pytest

from taskfleet.errors import InvalidTransition
from taskfleet.model import JOB_TRANSITIONS, TASK_TRANSITIONS, JobStatus, TaskStatus
from taskfleet.store.common.transitions import (
    TaskStatusGate,
    allowed_job_sources,
    allowed_task_sources,
    checked_job_sources,
    checked_task_sources,
)

S = TaskStatus


@pytest.mark.parametrize("target", list(TaskStatus))
def test_allowed_task_sources_are_the_tables(target: TaskStatus) -> None:
    expected = [s.value for s in TaskStatus if s is target or target in TASK_TRANSITIONS[s]]
    assert allowed_task_sources(target) == expected


@pytest.mark.parametrize("target", list(JobStatus))
def test_allowed_job_sources_are_the_tables(target: JobStatus) -> None:
    expected = [s.value for s in JobStatus if s is target or target in JOB_TRANSITIONS[s]]
    assert allowed_job_sources(target) == expected


def test_checked_sources_pass_allowed_changes_and_refuse_the_others() -> None:
    for source, targets in TASK_TRANSITIONS.items():
        for target in TaskStatus:
            if target is source or target in targets:
                assert checked_task_sources([source], target) == [source.value]
            else:
                with pytest.raises(InvalidTransition):
                    checked_task_sources([source], target)
    for job_source, job_targets in JOB_TRANSITIONS.items():
        for job_target in JobStatus:
            if job_target is job_source or job_target in job_targets:
                assert checked_job_sources([job_source], job_target) == [job_source.value]
            else:
                with pytest.raises(InvalidTransition):
                    checked_job_sources([job_source], job_target)


def test_the_status_gate_checks_a_new_status_once_and_refuses_a_forbidden_one() -> None:
    gate = TaskStatusGate([S.RUNNING])
    assert gate[S.SUCCEEDED] == "succeeded"
    assert S.SUCCEEDED in gate  # later lookups are a plain dict lookup
    with pytest.raises(InvalidTransition, match="running -> skipped"):
        TaskStatusGate([S.RUNNING])[S.SKIPPED]
    with pytest.raises(InvalidTransition, match="cancelled -> running"):
        checked_task_sources([S.PENDING, S.CANCELLED], S.RUNNING)
    assert checked_task_sources([S.QUEUED], S.QUEUED) == ["queued"]  # staying is no change
