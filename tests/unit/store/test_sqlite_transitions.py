"""SQLite only: every status change the store makes is one the state machine allows.

Each statement that changes statuses admits some current statuses in its
WHERE clause. Here a task (or job) is put in every status in turn with a raw
UPDATE, one operation runs, and the statuses it changed must be exactly the
ones its statement admits, each change one that ``TASK_TRANSITIONS`` allows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from taskfleet.errors import InvalidTransition
from taskfleet.model import (
    JOB_TRANSITIONS,
    TASK_TRANSITIONS,
    JobStatus,
    TaskStatus,
)
from taskfleet.store.sqlite.store import SqliteStore

from .conftest import finish, job, runner, start, task

S = TaskStatus
OPEN = frozenset({S.PENDING, S.QUEUED})
ENDS = (S.SUCCEEDED, S.FAILED, S.CANCELLED, S.PENDING, S.QUEUED)

Operation = Callable[[SqliteStore], Awaitable[object]]


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A store whose job-1 has t1 and t2 (t2 depends on t1), held by runner r1."""
    opened = SqliteStore(str(tmp_path / "gate.db"))
    await opened.open()
    await opened.create_job(job(), [task("t1", 1), task("t2", 2, depends_on=("t1",))])
    await opened.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    yield opened
    await opened.close()


def db(store: SqliteStore) -> sqlite3.Connection:
    assert store._db is not None
    return store._db


def put(store: SqliteStore, task_id: str, status: TaskStatus, *, unmet: int = 0) -> None:
    """Put a task in ``status``, leased by r1 (as a task the runner holds may be)."""
    db(store).execute(
        "UPDATE tasks SET status = ?, lease_owner = 'r1', unmet_deps = ? "
        "WHERE job_id = 'job-1' AND task_id = ?",
        (status.value, unmet, task_id),
    )


def status_of(store: SqliteStore, task_id: str) -> TaskStatus:
    row = db(store).execute("SELECT status FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
    return TaskStatus(row[0])


def allowed(before: TaskStatus, after: TaskStatus, *, through_running: bool) -> bool:
    """Whether the table lets a task go ``before`` -> ``after`` (an attempt's end: via running)."""
    if through_running and before in OPEN:
        return S.RUNNING in TASK_TRANSITIONS[before] and allowed(
            S.RUNNING, after, through_running=False
        )
    return before is after or after in TASK_TRANSITIONS[before]


# (name, operation on t1, the statuses its statement changes, whether it ends an attempt)
T1_OPERATIONS: list[tuple[str, Operation, frozenset[TaskStatus], bool]] = [
    ("start", lambda s: s.record_attempts("job-1", [start(1)]), OPEN, False),
    *[
        (
            f"finish-{end.value}",
            lambda s, end=end: s.record_attempts("job-1", [finish(1, end)]),
            (OPEN | {S.RUNNING}) - {end},
            True,
        )
        for end in ENDS
    ],
    *[
        (
            f"whole-attempt-{end.value}",
            lambda s, end=end: s.record_attempts("job-1", [start(1), finish(1, end)]),
            (OPEN | {S.RUNNING}) - {end},
            True,
        )
        for end in ENDS
    ],
    ("cancel-open", lambda s: s.cancel_open_tasks("job-1", 3000.0), OPEN, False),
    (
        "reopen",
        lambda s: s.reopen_tasks("job-1", task_ids=["t1"]),
        frozenset(S) - {S.QUEUED},
        False,
    ),
    ("release-leases", lambda s: s.release_leases("job-1", "r1"), frozenset({S.RUNNING}), False),
    (
        "release-job",
        lambda s: s.release_job("job-1", "r1", JobStatus.INTERRUPTED, 3000.0),
        frozenset({S.RUNNING}),
        False,
    ),
]


@pytest.mark.parametrize("before", list(S))
@pytest.mark.parametrize(
    ("operation", "admitted", "ends_an_attempt"),
    [pytest.param(op, admitted, ends, id=name) for name, op, admitted, ends in T1_OPERATIONS],
)
async def test_each_statement_changes_exactly_what_it_admits(
    store: SqliteStore,
    before: TaskStatus,
    operation: Operation,
    admitted: frozenset[TaskStatus],
    ends_an_attempt: bool,
) -> None:
    put(store, "t1", before)
    await operation(store)
    after = status_of(store, "t1")
    assert (after is not before) == (before in admitted), f"{before.value} -> {after.value}"
    assert allowed(before, after, through_running=ends_an_attempt)


@pytest.mark.parametrize("before", list(S))
@pytest.mark.parametrize(
    ("end", "admitted"),
    [(S.SUCCEEDED, frozenset({S.PENDING})), (S.FAILED, OPEN)],
    ids=["satisfy", "skip"],
)
async def test_a_dependency_ending_changes_only_dependants_waiting_to_start(
    store: SqliteStore, before: TaskStatus, end: TaskStatus, admitted: frozenset[TaskStatus]
) -> None:
    put(store, "t2", before, unmet=1)
    await store.record_attempts("job-1", [start(1), finish(1, end)])
    after = status_of(store, "t2")
    assert (after is not before) == (before in admitted), f"{before.value} -> {after.value}"
    assert allowed(before, after, through_running=False)


async def test_an_attempt_of_a_task_that_ended_meanwhile_is_still_recorded(
    store: SqliteStore,
) -> None:
    # Claimed by this runner, then cancelled by another process before its result came.
    await store.claim_tasks("job-1", "r1", 1)
    await store.cancel_open_tasks("job-1", 2005.0)
    await store.record_attempts("job-1", [start(1, at=2010.0), finish(1)])
    got = await store.get_task("job-1", "t1")
    assert (got.status, got.finished_at) == (S.CANCELLED, 2005.0)
    [attempt] = await store.list_attempts("job-1", "t1")
    assert (attempt.number, attempt.started_at, attempt.outcome) == (1, 2010.0, "succeeded")


async def test_a_running_dependant_is_left_to_its_runner(store: SqliteStore) -> None:
    put(store, "t2", S.RUNNING)
    assert await store.record_attempts("job-1", [start(1), finish(1, S.FAILED)]) == []
    assert status_of(store, "t2") is S.RUNNING


@pytest.mark.parametrize("before", list(S))
async def test_validation_fails_a_task_only_where_the_table_lets_it(
    store: SqliteStore, before: TaskStatus
) -> None:
    put(store, "t1", before)
    if before is S.FAILED or S.FAILED in TASK_TRANSITIONS[before]:
        assert await store.fail_tasks("job-1", ["t1", "missing"], "validation failed") == ["t1"]
        assert status_of(store, "t1") is S.FAILED
    else:
        with pytest.raises(InvalidTransition):
            await store.fail_tasks("job-1", ["t2", "t1"], "validation failed")
        assert (status_of(store, "t1"), status_of(store, "t2")) == (before, S.PENDING)


# -- jobs -------------------------------------------------------------------------


def put_job(store: SqliteStore, status: JobStatus) -> None:
    db(store).execute("UPDATE jobs SET status = ? WHERE job_id = 'job-1'", (status.value,))


async def job_status(store: SqliteStore) -> JobStatus:
    return (await store.get_job("job-1")).status


@pytest.mark.parametrize("before", list(JobStatus))
@pytest.mark.parametrize("new", list(JobStatus))
async def test_job_status_changes_follow_the_table(
    store: SqliteStore, before: JobStatus, new: JobStatus
) -> None:
    may = before is new or new in JOB_TRANSITIONS[before]
    put_job(store, before)
    assert await store.release_job("job-1", "r1", new, 3000.0) is True
    assert await job_status(store) is (new if may else before)
    put_job(store, before)
    if may:
        await store.set_job_status("job-1", new, 3000.0)
    else:
        with pytest.raises(InvalidTransition):
            await store.set_job_status("job-1", new, 3000.0)
    assert await job_status(store) is (new if may else before)


async def test_a_release_that_lost_to_a_cancel_frees_the_tasks_and_keeps_the_cancel(
    store: SqliteStore,
) -> None:
    await store.claim_tasks("job-1", "r1", 1)
    await store.record_attempts("job-1", [start(1)])
    await store.set_job_status("job-1", JobStatus.CANCELLED, 2050.0)
    assert await store.release_job("job-1", "r1", JobStatus.COMPLETED, 2060.0) is True
    got = await store.get_job("job-1")
    assert (got.status, got.finished_at) == (JobStatus.CANCELLED, 2050.0)
    t1 = await store.get_task("job-1", "t1")
    assert (t1.status, t1.lease_owner) == (S.QUEUED, None)
