"""The Store contract: every implementation must pass every test here.

Tests talk only through the ``Store`` protocol, so a new store joins by being
added to ``STORE_FACTORIES`` in conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from taskfleet.errors import (
    FileNotFound,
    InvalidTransition,
    JobConflict,
    JobNotFound,
    LeaseLost,
    StoreError,
    TaskfileError,
    TaskfileIssue,
    TaskNotFound,
)
from taskfleet.model import (
    AttemptOutcome,
    FailFast,
    JobOptions,
    JobStatus,
    RunnerInfo,
    StatusCounts,
    StoredFile,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
)
from taskfleet.store.base import Store

from .conftest import finish, job, runner, start, task, tasks

S = TaskStatus


async def statuses(store: Store, job_id: str = "job-1") -> dict[str, TaskStatus]:
    return {t.id: t.status for t in await store.list_tasks(job_id)}


# -- jobs -------------------------------------------------------------------


async def test_store_satisfies_protocol(store: Store) -> None:
    assert isinstance(store, Store)


async def test_create_job_returns_stored_job_with_total(store: Store) -> None:
    created = await store.create_job(job(), tasks(3))
    assert created.total == 3
    assert created.status is JobStatus.QUEUED
    assert await store.get_job("job-1") == created


async def test_job_fields_roundtrip(store: Store) -> None:
    options = JobOptions(
        concurrency=8,
        retries=5,
        retry_delay_s=0.5,
        timeout_s=30.0,
        fail_fast=FailFast.GRACEFUL,
        validate_cmd="make check",
        validate_rounds=3,
        profile_limits={"gpu": 2},
        resource_limits={"db": 1},
        cwd="/srv",
    )
    given = job(
        "job-x",
        name="nightly",
        options=options,
        status=JobStatus.INTERRUPTED,
        started_at=1001.5,
        runner=runner("r9"),
        validation_round=1,
        error="boom",
        usage={"tokens": 12.0},
    )
    created = await store.create_job(given, [])
    assert created.total == 0
    got = await store.get_job("job-x")
    assert got == created
    assert got.options == options
    assert got.runner == runner("r9")
    assert (got.name, got.status, got.started_at, got.finished_at) == (
        "nightly",
        JobStatus.INTERRUPTED,
        1001.5,
        None,
    )
    assert (got.validation_round, got.error, dict(got.usage)) == (1, "boom", {"tokens": 12.0})


async def test_list_and_count_jobs(store: Store) -> None:
    for job_id, created_at in [("a", 3.0), ("b", 1.0), ("c", 2.0), ("d", 3.0)]:
        await store.create_job(job(job_id, created_at=created_at), [])
    await store.set_job_status("c", JobStatus.CANCELLED, 10.0)

    assert [j.job_id for j in await store.list_jobs()] == ["a", "d", "c", "b"]
    assert [j.job_id for j in await store.list_jobs(limit=2, offset=1)] == ["d", "c"]
    assert [j.job_id for j in await store.list_jobs(status=JobStatus.QUEUED)] == ["a", "d", "b"]
    assert await store.count_jobs() == 4
    assert await store.count_jobs(status=JobStatus.CANCELLED) == 1
    assert await store.count_jobs(status=JobStatus.RUNNING) == 0


async def test_job_ids_starting_with_a_prefix(store: Store) -> None:
    ids = ["job-b2", "job-a1", "job-a10", "Job-a3", "job-a", "x%y", "x_z", "xy", "a*b", "a[c", "ab"]
    for job_id in ids:
        await store.create_job(job(job_id), [])

    # In id order, case-sensitive, capped at the limit; an exact id matches itself.
    assert await store.job_ids_starting_with("job-a", limit=10) == ["job-a", "job-a1", "job-a10"]
    assert await store.job_ids_starting_with("job-", limit=2) == ["job-a", "job-a1"]
    assert await store.job_ids_starting_with("job-a10", limit=10) == ["job-a10"]
    assert await store.job_ids_starting_with("nope", limit=10) == []
    # Wildcards of LIKE and GLOB in the prefix are plain characters.
    assert await store.job_ids_starting_with("x%", limit=10) == ["x%y"]
    assert await store.job_ids_starting_with("x_", limit=10) == ["x_z"]
    assert await store.job_ids_starting_with("a*", limit=10) == ["a*b"]
    assert await store.job_ids_starting_with("a[", limit=10) == ["a[c"]
    assert await store.job_ids_starting_with("", limit=3) == ["Job-a3", "a*b", "a[c"]


async def test_duplicate_job_id_conflicts(store: Store) -> None:
    await store.create_job(job(), tasks(2))
    with pytest.raises(JobConflict):
        await store.create_job(job(), tasks(5))
    assert (await store.get_job("job-1")).total == 2
    assert len(await store.list_tasks("job-1")) == 2


async def test_create_job_stores_nothing_when_tasks_raise(store: Store) -> None:
    error = TaskfileError([TaskfileIssue("tasks.jsonl", 1501, "kind", "unknown kind")])

    def broken() -> Iterator[TaskSpec]:
        # More than one insert batch, so some rows were written before the error.
        yield from tasks(1500, depends_on=())
        yield task("late", 1501, depends_on=("t1",))
        raise error

    with pytest.raises(TaskfileError) as caught:
        await store.create_job(job(), broken())
    assert caught.value is error
    with pytest.raises(JobNotFound):
        await store.get_job("job-1")
    assert await store.count_jobs() == 0

    created = await store.create_job(job(), tasks(2))
    assert created.total == 2
    assert [t.id for t in await store.list_tasks("job-1")] == ["t1", "t2"]


async def test_duplicate_task_id_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError):
        await store.create_job(job(), [task("a", 1), task("a", 2)])
    assert await store.count_jobs() == 0


async def test_unknown_dependency_is_rejected(store: Store) -> None:
    with pytest.raises(TaskfileError, match="no task 'ghost'"):
        await store.create_job(job(), [task("a", 1, depends_on=("ghost",))])
    assert await store.count_jobs() == 0


async def test_task_fields_roundtrip(store: Store) -> None:
    spec = task(
        "build",
        1,
        spec={"cmd": "make", "env": {"A": "1"}, "n": [1, 2.5, None, True]},
        priority=3,
        retries=4,
        timeout_s=12.5,
        scope=("src/**",),
        resources=("db", "gpu"),
        profile="fast",
        description="build it",
        tags=("x", "y"),
    )
    await store.create_job(job(), [spec])
    got = await store.get_task("job-1", "build")
    assert (got.job_id, got.seq, got.id, got.kind, got.status) == (
        "job-1",
        1,
        "build",
        "simulate",
        S.QUEUED,
    )
    assert got.spec == spec.spec
    assert (got.priority, got.retries, got.timeout_s) == (3, 4, 12.5)
    assert (got.depends_on, got.scope, got.resources, got.tags) == (
        (),
        ("src/**",),
        ("db", "gpu"),
        ("x", "y"),
    )
    assert (got.profile, got.description) == ("fast", "build it")
    assert (got.attempts, got.failures, got.result, got.error, got.lease_owner) == (
        0,
        0,
        None,
        None,
        None,
    )
    assert (got.started_at, got.finished_at, got.duration_s, got.not_before) == (None,) * 4


async def test_dependencies_may_point_forwards(store: Store) -> None:
    await store.create_job(
        job(),
        [
            task("a", 1, depends_on=("c",)),
            task("b", 2, depends_on=("a", "c")),
            task("c", 3),
        ],
    )
    assert await statuses(store) == {"a": S.PENDING, "b": S.PENDING, "c": S.QUEUED}
    assert (await store.get_task("job-1", "b")).depends_on == ("a", "c")


# -- claiming ---------------------------------------------------------------


async def test_claim_highest_priority_then_input_order(store: Store) -> None:
    priorities = [1, 3, 1, 3, 0, 2]
    await store.create_job(
        job(), [task(f"t{i}", i, priority=p) for i, p in enumerate(priorities, 1)]
    )
    first = await store.claim_tasks("job-1", "r1", 3)
    assert [t.id for t in first] == ["t2", "t4", "t6"]
    assert all(t.lease_owner == "r1" for t in first)
    rest = await store.claim_tasks("job-1", "r2", 10)
    assert [t.id for t in rest] == ["t1", "t3", "t5"]
    assert await store.claim_tasks("job-1", "r3", 10) == []
    # The lease becomes durable with the start.
    await store.record_attempts("job-1", [start(2, runner_id="r1"), start(5, runner_id="r2")])
    assert (await store.get_task("job-1", "t2")).lease_owner == "r1"
    assert (await store.get_task("job-1", "t5")).lease_owner == "r2"


async def test_claims_are_handed_out_once_until_released(store: Store) -> None:
    await store.create_job(job(), [task(f"t{i}", i) for i in range(1, 5)])
    await store.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    assert [t.id for t in await store.claim_tasks("job-1", "r1", 2)] == ["t1", "t2"]
    # A start, or a start and its end in one batch, turn a claim into the stored lease.
    await store.record_attempts("job-1", [start(1), finish(1)])
    assert [t.id for t in await store.claim_tasks("job-1", "r1", 10)] == ["t3", "t4"]
    assert await store.claim_tasks("job-1", "r1", 10) == []
    # A runner that stops without starting its claims gives them back.
    await store.release_job("job-1", "r1", JobStatus.INTERRUPTED, 3000.0)
    assert [t.id for t in await store.claim_tasks("job-1", "r2", 10)] == ["t2", "t3", "t4"]
    assert (await store.get_task("job-1", "t2")).status is S.QUEUED


async def test_reopen_and_cancel_forget_claims(store: Store) -> None:
    await store.create_job(job(), [task("t1", 1), task("t2", 2)])
    assert len(await store.claim_tasks("job-1", "r1", 10)) == 2
    await store.cancel_open_tasks("job-1", 100.0)
    assert await store.reopen_tasks("job-1", statuses=[S.CANCELLED]) == 2
    assert [t.id for t in await store.claim_tasks("job-1", "r1", 10)] == ["t1", "t2"]


async def test_claim_skips_tasks_waiting_for_dependencies(store: Store) -> None:
    await store.create_job(job(), [task("a", 1), task("b", 2, depends_on=("a",))])
    assert [t.id for t in await store.claim_tasks("job-1", "r1", 10)] == ["a"]
    assert await store.claim_tasks("job-1", "r1", 10) == []


async def test_claim_zero_or_unknown_job_claims_nothing(store: Store) -> None:
    await store.create_job(job(), tasks(2))
    assert await store.claim_tasks("job-1", "r1", 0) == []
    assert await store.claim_tasks("nope", "r1", 5) == []


# -- recording attempts -------------------------------------------------------


async def test_start_opens_an_attempt(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    await store.claim_tasks("job-1", "r1", 1)
    assert await store.record_attempts("job-1", [start(1, at=50.0)]) == []
    got = await store.get_task("job-1", "t1")
    assert (got.status, got.attempts, got.started_at, got.lease_owner) == (S.RUNNING, 1, 50.0, "r1")
    [attempt] = await store.list_attempts("job-1", "t1")
    assert (attempt.task_id, attempt.number, attempt.runner_id) == ("t1", 1, "r1")
    assert (attempt.started_at, attempt.finished_at, attempt.outcome) == (50.0, None, None)


async def test_start_and_finish_in_one_batch(store: Store) -> None:
    await store.create_job(job(), tasks(2))
    await store.claim_tasks("job-1", "r1", 2)
    updates: list[TaskUpdate] = [
        start(1, at=10.0),
        start(2, at=10.0),
        finish(1, at=12.0, duration_s=2.0, result={"out": [1, "x"]}),
        finish(2, S.FAILED, at=13.0, duration_s=3.0, error="exit 1", result="partial"),
    ]
    assert await store.record_attempts("job-1", updates) == []
    one = await store.get_task("job-1", "t1")
    assert (one.status, one.result, one.error, one.lease_owner) == (
        S.SUCCEEDED,
        {"out": [1, "x"]},
        None,
        None,
    )
    assert (one.started_at, one.finished_at, one.duration_s, one.attempts) == (10.0, 12.0, 2.0, 1)
    two = await store.get_task("job-1", "t2")
    assert (two.status, two.result, two.error, two.failures) == (S.FAILED, "partial", "exit 1", 1)
    [attempt] = await store.list_attempts("job-1", "t2")
    assert (attempt.started_at, attempt.finished_at) == (10.0, 13.0)
    assert (attempt.outcome, attempt.error, attempt.runner_id) == ("failed", "exit 1", "r1")


async def test_a_finish_that_carries_its_start_is_the_whole_attempt(store: Store) -> None:
    await store.create_job(job(), tasks(3))
    await store.claim_tasks("job-1", "r1", 3)
    updates: list[TaskUpdate] = [
        finish(1, at=12.0, duration_s=2.0, result=[1], runner_id="r1", started_at=10.0),
        finish(2, S.FAILED, at=13.0, duration_s=3.0, error="boom", runner_id="r1", started_at=10.0),
        finish(
            3,
            S.PENDING,
            at=14.0,
            failures=1,
            error="flaky",
            not_before=30.0,
            runner_id="r1",
            started_at=11.0,
        ),
    ]
    assert await store.record_attempts("job-1", updates) == []
    one = await store.get_task("job-1", "t1")
    assert (one.status, one.attempts, one.started_at, one.finished_at) == (
        S.SUCCEEDED,
        1,
        10.0,
        12.0,
    )
    assert (one.result, one.lease_owner) == ([1], None)
    [attempt] = await store.list_attempts("job-1", "t1")
    assert (attempt.runner_id, attempt.started_at, attempt.outcome) == ("r1", 10.0, "succeeded")
    [failed] = await store.list_attempts("job-1", "t2")
    assert (failed.started_at, failed.finished_at, failed.error) == (10.0, 13.0, "boom")
    retry = await store.get_task("job-1", "t3")
    assert (retry.status, retry.lease_owner, retry.not_before) == (S.PENDING, "r1", 30.0)
    [first] = await store.list_attempts("job-1", "t3")
    assert (first.number, first.runner_id, first.outcome) == (1, "r1", "failed")
    # Its second attempt, a run in the same shape, after the first one's retry time.
    second = finish(3, attempt=2, at=31.0, duration_s=1.0, runner_id="r1", started_at=30.0)
    await store.record_attempts("job-1", [second])
    attempts = await store.list_attempts("job-1", "t3")
    assert [(a.number, a.outcome) for a in attempts] == [(1, "failed"), (2, "succeeded")]
    assert (await store.get_task("job-1", "t3")).status is S.SUCCEEDED


async def test_one_task_twice_in_a_batch_keeps_its_order(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    await store.claim_tasks("job-1", "r1", 1)
    updates: list[TaskUpdate] = [
        start(1, at=10.0),
        finish(1, S.PENDING, at=11.0, failures=1, error="flaky", not_before=11.5),
        finish(1, attempt=2, at=12.0, duration_s=0.5, failures=1, runner_id="r1", started_at=11.5),
    ]
    await store.record_attempts("job-1", updates)
    got = await store.get_task("job-1", "t1")
    assert (got.status, got.attempts, got.started_at, got.failures) == (S.SUCCEEDED, 2, 11.5, 1)
    attempts = await store.list_attempts("job-1", "t1")
    assert [(a.number, a.started_at, a.outcome) for a in attempts] == [
        (1, 10.0, "failed"),
        (2, 11.5, "succeeded"),
    ]


async def test_finish_without_recorded_start_still_records_the_attempt(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    await store.claim_tasks("job-1", "r1", 1)
    await store.record_attempts("job-1", [finish(1, at=20.0, duration_s=4.0)])
    [attempt] = await store.list_attempts("job-1", "t1")
    assert (attempt.number, attempt.runner_id, attempt.started_at) == (1, "r1", 16.0)
    assert (attempt.finished_at, attempt.outcome) == (20.0, "succeeded")


async def test_retry_keeps_the_lease_until_it_runs_again(store: Store) -> None:
    await store.create_job(job(), tasks(2))
    await store.claim_tasks("job-1", "r1", 1)
    retry = finish(1, S.PENDING, at=11.0, failures=1, error="flaky", not_before=15.0)
    await store.record_attempts("job-1", [start(1, at=10.0), retry])
    got = await store.get_task("job-1", "t1")
    assert (got.status, got.lease_owner, got.failures, got.not_before) == (S.PENDING, "r1", 1, 15.0)
    # Leased: another runner cannot take it, only the free task.
    assert [t.id for t in await store.claim_tasks("job-1", "r2", 10)] == ["t2"]

    await store.record_attempts(
        "job-1", [start(1, attempt=2, at=15.0), finish(1, attempt=2, at=16.0, failures=1)]
    )
    got = await store.get_task("job-1", "t1")
    assert (got.status, got.attempts, got.lease_owner) == (S.SUCCEEDED, 2, None)
    attempts = await store.list_attempts("job-1", "t1")
    assert [(a.number, a.outcome, a.error) for a in attempts] == [
        (1, "failed", "flaky"),
        (2, "succeeded", None),
    ]


async def test_interrupted_attempt_requeues_and_releases(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    await store.claim_tasks("job-1", "r1", 1)
    interrupted = finish(1, S.QUEUED, attempt_outcome=AttemptOutcome.INTERRUPTED)
    await store.record_attempts("job-1", [start(1), interrupted])
    got = await store.get_task("job-1", "t1")
    assert (got.status, got.lease_owner) == (S.QUEUED, None)
    assert [t.id for t in await store.claim_tasks("job-1", "r2", 5)] == ["t1"]


async def test_success_queues_dependants_once_all_their_dependencies_succeed(store: Store) -> None:
    await store.create_job(
        job(),
        [task("a", 1), task("b", 2, depends_on=("a",)), task("c", 3, depends_on=("a", "b"))],
    )
    await store.claim_tasks("job-1", "r1", 10)
    assert await store.record_attempts("job-1", [start(1), finish(1)]) == []
    assert await statuses(store) == {"a": S.SUCCEEDED, "b": S.QUEUED, "c": S.PENDING}
    assert [t.id for t in await store.claim_tasks("job-1", "r1", 10)] == ["b"]
    await store.record_attempts("job-1", [start(2), finish(2)])
    assert (await statuses(store))["c"] is S.QUEUED
    assert [t.id for t in await store.claim_tasks("job-1", "r1", 10)] == ["c"]


async def test_two_dependencies_succeeding_in_one_batch(store: Store) -> None:
    await store.create_job(job(), [task("a", 1), task("b", 2), task("c", 3, depends_on=("a", "b"))])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1), start(2), finish(1), finish(2)])
    assert (await statuses(store))["c"] is S.QUEUED


async def test_failure_skips_every_transitive_dependant(store: Store) -> None:
    await store.create_job(
        job(),
        [
            task("d", 1, depends_on=("a",)),
            task("a", 2),
            task("b", 3, depends_on=("a",)),
            task("c", 4, depends_on=("b", "e")),
            task("e", 5),
        ],
    )
    await store.claim_tasks("job-1", "r1", 10)
    skipped = await store.record_attempts(
        "job-1", [start(2), finish(2, S.FAILED, at=77.0, error="x")]
    )
    assert skipped == ["d", "b", "c"]
    assert await statuses(store) == {
        "d": S.SKIPPED,
        "a": S.FAILED,
        "b": S.SKIPPED,
        "c": S.SKIPPED,
        "e": S.QUEUED,
    }
    c = await store.get_task("job-1", "c")
    assert (c.error, c.finished_at, c.lease_owner) == ("dependency 'a' ended failed", 77.0, None)
    # e still runs; its success does not revive the skipped c.
    await store.record_attempts("job-1", [start(5), finish(5)])
    assert (await statuses(store))["c"] is S.SKIPPED


async def test_cancelled_task_skips_dependants(store: Store) -> None:
    await store.create_job(job(), [task("a", 1), task("b", 2, depends_on=("a",))])
    await store.claim_tasks("job-1", "r1", 10)
    skipped = await store.record_attempts("job-1", [start(1), finish(1, S.CANCELLED)])
    assert skipped == ["b"]
    assert (await store.get_task("job-1", "b")).error == "dependency 'a' ended cancelled"


async def test_record_for_unknown_task_or_job_changes_nothing(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    assert await store.record_attempts("job-1", [start(99), finish(99)]) == []
    assert await store.record_attempts("nope", [start(1), finish(1)]) == []
    assert await store.record_attempts("job-1", []) == []
    assert (await store.get_task("job-1", "t1")).status is S.QUEUED


# -- the job's runner ---------------------------------------------------------


async def test_acquire_job_sets_runner_and_times(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    got = await store.acquire_job("job-1", runner("r1", now=2000.0), [JobStatus.QUEUED])
    assert (got.status, got.runner, got.started_at) == (JobStatus.RUNNING, runner("r1"), 2000.0)
    await store.release_job("job-1", "r1", JobStatus.INTERRUPTED, 2100.0, error="sigterm")
    again = await store.acquire_job(
        "job-1", runner("r2", now=3000.0), [JobStatus.INTERRUPTED, JobStatus.FAILED]
    )
    assert (again.status, again.started_at, again.finished_at, again.error) == (
        JobStatus.RUNNING,
        2000.0,
        None,
        None,
    )
    assert again.runner == runner("r2", now=3000.0)


async def test_acquire_job_from_another_status_conflicts(store: Store) -> None:
    await store.create_job(job(), [])
    await store.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    with pytest.raises(JobConflict):
        await store.acquire_job("job-1", runner("r2"), [JobStatus.QUEUED, JobStatus.INTERRUPTED])
    assert (await store.get_job("job-1")).runner == runner("r1")
    with pytest.raises(JobNotFound):
        await store.acquire_job("nope", runner("r2"), [JobStatus.QUEUED])


async def test_claim_queued_job_takes_the_oldest(store: Store) -> None:
    for job_id, created_at in [("new", 3.0), ("old", 1.0), ("mid", 2.0), ("held", 0.5)]:
        await store.create_job(job(job_id, created_at=created_at), [])
    await store.acquire_job("held", runner("r0"), [JobStatus.QUEUED])
    order = []
    for runner_id in ("w1", "w2", "w3"):
        claimed = await store.claim_queued_job(runner(runner_id))
        assert claimed is not None and claimed.status is JobStatus.RUNNING
        assert claimed.runner is not None and claimed.runner.runner_id == runner_id
        order.append(claimed.job_id)
    assert order == ["old", "mid", "new"]
    assert await store.claim_queued_job(runner("w4")) is None


async def test_claim_queued_job_takes_up_the_job_of_a_worker_that_died(store: Store) -> None:
    """Interrupted under a worker: claimable, its open tasks freed; under a user's run: not."""
    await store.create_job(job("user-run", created_at=1.0, status=JobStatus.INTERRUPTED), [])
    await store.create_job(job("user-resume", created_at=2.0), [])
    await store.acquire_job("user-resume", runner("r1"), [JobStatus.QUEUED])
    await store.release_job("user-resume", "r1", JobStatus.INTERRUPTED, 2100.0)
    await store.create_job(job("dead-worker", created_at=3.0), tasks(2))
    await store.acquire_job("dead-worker", runner("worker@host-a:7:ab"), [JobStatus.QUEUED])
    assert len(await store.claim_tasks("dead-worker", "worker@host-a:7:ab", 2)) == 2
    await store.record_attempts("dead-worker", [start(1, runner_id="worker@host-a:7:ab")])
    await store.release_job("dead-worker", "worker@host-a:7:ab", JobStatus.INTERRUPTED, 2100.0)
    await store.create_job(job("queued", created_at=4.0), [])

    claimed = await store.claim_queued_job(runner("worker@host-b:9:cd"))
    assert claimed is not None and claimed.job_id == "dead-worker"
    assert claimed.status is JobStatus.RUNNING
    assert claimed.runner is not None and claimed.runner.runner_id == "worker@host-b:9:cd"
    assert len(await store.claim_tasks("dead-worker", "worker@host-b:9:cd", 5)) == 2
    claimed = await store.claim_queued_job(runner("worker@host-b:9:ef"))
    assert claimed is not None and claimed.job_id == "queued"
    assert await store.claim_queued_job(runner("worker@host-b:9:gh")) is None
    for job_id in ("user-run", "user-resume"):
        assert (await store.get_job(job_id)).status is JobStatus.INTERRUPTED


async def test_heartbeat_renews_and_reports_status(store: Store) -> None:
    await store.create_job(job(), [])
    await store.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    assert await store.heartbeat("job-1", "r1", 2050.0) is JobStatus.RUNNING
    held = (await store.get_job("job-1")).runner
    assert held is not None and held.heartbeat_at == 2050.0
    await store.set_job_status("job-1", JobStatus.CANCELLED, 2060.0)
    assert await store.heartbeat("job-1", "r1", 2070.0) is JobStatus.CANCELLED


async def test_heartbeat_of_another_runner_loses_the_lease(store: Store) -> None:
    await store.create_job(job(), [])
    with pytest.raises(LeaseLost):
        await store.heartbeat("job-1", "r1", 1.0)
    await store.acquire_job("job-1", runner("r2"), [JobStatus.QUEUED])
    with pytest.raises(LeaseLost):
        await store.heartbeat("job-1", "r1", 1.0)
    with pytest.raises(JobNotFound):
        await store.heartbeat("nope", "r1", 1.0)


async def test_release_job_only_by_its_runner(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    await store.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    await store.claim_tasks("job-1", "r1", 1)
    await store.record_attempts("job-1", [start(1)])
    assert await store.release_job("job-1", "r2", JobStatus.FAILED, 9.0) is False
    assert (await store.get_job("job-1")).status is JobStatus.RUNNING
    assert (await store.get_task("job-1", "t1")).lease_owner == "r1"
    assert await store.release_job("nope", "r1", JobStatus.FAILED, 9.0) is False


async def test_release_job_interrupts_running_tasks(store: Store) -> None:
    await store.create_job(job(), tasks(4))
    await store.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    await store.claim_tasks("job-1", "r1", 3)
    await store.claim_tasks("job-1", "other", 1)
    await store.record_attempts(
        "job-1",
        [
            start(1),
            start(2),
            finish(2, S.PENDING, failures=1, not_before=99.0),
            start(4, runner_id="other"),
        ],
    )
    assert await store.release_job("job-1", "r1", JobStatus.INTERRUPTED, 3000.0) is True

    got = await store.get_job("job-1")
    assert (got.status, got.finished_at) == (JobStatus.INTERRUPTED, None)
    assert got.runner == runner("r1")  # kept for the record
    tasks_now = {t.id: (t.status, t.lease_owner) for t in await store.list_tasks("job-1")}
    assert tasks_now == {
        "t1": (S.QUEUED, None),
        "t2": (S.PENDING, None),
        "t3": (S.QUEUED, None),
        "t4": (S.RUNNING, "other"),
    }
    one = await store.get_task("job-1", "t1")
    assert (one.attempts, one.failures) == (1, 0)
    [attempt] = await store.list_attempts("job-1", "t1")
    assert (attempt.outcome, attempt.finished_at) == ("interrupted", 3000.0)
    # The pending retry is free again: anyone may claim it (it honours not_before).
    assert [t.id for t in await store.claim_tasks("job-1", "r2", 10)] == ["t1", "t2", "t3"]


async def test_release_job_with_final_status_sets_finished_at(store: Store) -> None:
    await store.create_job(job(), [])
    await store.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    assert await store.release_job("job-1", "r1", JobStatus.FAILED, 3000.0, error="validation")
    got = await store.get_job("job-1")
    assert (got.status, got.finished_at, got.error) == (JobStatus.FAILED, 3000.0, "validation")


async def test_set_job_status(store: Store) -> None:
    await store.create_job(job(), [])
    await store.set_job_status("job-1", JobStatus.CANCELLED, 5.0, error="by user")
    got = await store.get_job("job-1")
    assert (got.status, got.finished_at, got.error) == (JobStatus.CANCELLED, 5.0, "by user")
    await store.set_job_status("job-1", JobStatus.QUEUED, 6.0)
    got = await store.get_job("job-1")
    assert (got.status, got.finished_at, got.error) == (JobStatus.QUEUED, None, None)
    with pytest.raises(JobNotFound):
        await store.set_job_status("nope", JobStatus.CANCELLED, 5.0)


async def test_a_job_change_the_table_forbids_is_refused_and_changes_nothing(
    store: Store,
) -> None:
    await store.create_job(job(), [])
    with pytest.raises(InvalidTransition, match="queued -> completed"):
        await store.set_job_status("job-1", JobStatus.COMPLETED, 5.0)
    got = await store.get_job("job-1")
    assert (got.status, got.finished_at) == (JobStatus.QUEUED, None)


async def test_validation_round_and_usage(store: Store) -> None:
    await store.create_job(job(usage={"tokens": 1.0}), [])
    await store.set_validation_round("job-1", 2)
    await store.add_usage("job-1", {"tokens": 10.0, "cost_usd": 0.25})
    await store.add_usage("job-1", {"cost_usd": 0.5})
    got = await store.get_job("job-1")
    assert got.validation_round == 2
    assert dict(got.usage) == {"tokens": 11.0, "cost_usd": 0.75}
    with pytest.raises(JobNotFound):
        await store.add_usage("nope", {"tokens": 1.0})
    with pytest.raises(JobNotFound):
        await store.set_validation_round("nope", 1)


# -- bulk task changes ----------------------------------------------------------


async def test_cancel_open_tasks_leaves_running_ones(store: Store) -> None:
    await store.create_job(
        job(), [task("a", 1), task("b", 2), task("c", 3, depends_on=("b",)), task("d", 4)]
    )
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1), start(4), finish(4)])
    assert await store.cancel_open_tasks("job-1", 500.0) == 2
    assert await statuses(store) == {
        "a": S.RUNNING,
        "b": S.CANCELLED,
        "c": S.CANCELLED,
        "d": S.SUCCEEDED,
    }
    b = await store.get_task("job-1", "b")
    assert (b.error, b.finished_at, b.lease_owner) == ("cancelled", 500.0, None)
    assert (await store.get_task("job-1", "a")).lease_owner == "r1"
    with pytest.raises(JobNotFound):
        await store.cancel_open_tasks("nope", 1.0)


async def test_reopen_by_status_waits_for_reopened_dependencies(store: Store) -> None:
    await store.create_job(job(), [task("a", 1), task("b", 2, depends_on=("a",)), task("ok", 3)])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts(
        "job-1",
        [start(1), finish(1, S.FAILED, error="bad", result=[1], failures=2), start(3), finish(3)],
    )
    assert await store.reopen_tasks("job-1", statuses=[S.FAILED, S.SKIPPED]) == 2
    assert await statuses(store) == {"a": S.QUEUED, "b": S.PENDING, "ok": S.SUCCEEDED}
    a = await store.get_task("job-1", "a")
    assert (a.failures, a.error, a.result, a.finished_at, a.duration_s) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert a.attempts == 1  # attempt numbers keep counting
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1, attempt=2), finish(1, attempt=2)])
    assert (await statuses(store))["b"] is S.QUEUED


async def test_reopen_by_id_recounts_unmet_dependencies(store: Store) -> None:
    await store.create_job(job(), [task("a", 1), task("b", 2, depends_on=("a",))])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1), finish(1)])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(2), finish(2, S.PENDING, not_before=9.0)])

    assert await store.reopen_tasks("job-1", task_ids=["b", "missing"]) == 1
    b = await store.get_task("job-1", "b")
    assert (b.status, b.lease_owner, b.not_before) == (S.QUEUED, None, None)

    assert await store.reopen_tasks("job-1", task_ids=["a", "b"]) == 2
    assert await statuses(store) == {"a": S.QUEUED, "b": S.PENDING}
    assert [t.id for t in await store.claim_tasks("job-1", "r1", 10)] == ["a"]
    assert await store.reopen_tasks("job-1") == 0
    assert await store.reopen_tasks("nope", statuses=[S.QUEUED]) == 0


async def test_fail_tasks_marks_existing_ones_in_input_order(store: Store) -> None:
    await store.create_job(job(), [task("a", 1), task("b", 2), task("c", 3, depends_on=("a",))])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1), finish(1), start(2), finish(2)])
    marked = await store.fail_tasks("job-1", ["b", "zzz", "a"], "validation failed")
    assert marked == ["b", "a"]
    a = await store.get_task("job-1", "a")
    assert (a.status, a.error, a.lease_owner) == (S.FAILED, "validation failed", None)
    # No skip propagation: the validation round reopens what it needs.
    assert (await statuses(store))["c"] is S.QUEUED
    assert await store.fail_tasks("nope", ["a"], "x") == []


async def test_release_leases_leaves_the_job_alone(store: Store) -> None:
    await store.create_job(job(), tasks(3))
    await store.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    await store.claim_tasks("job-1", "r1", 2)
    await store.record_attempts("job-1", [start(1)])
    await store.release_leases("job-1", "r1")
    assert (await store.get_job("job-1")).status is JobStatus.RUNNING
    assert {t.id: (t.status, t.lease_owner) for t in await store.list_tasks("job-1")} == {
        "t1": (S.QUEUED, None),
        "t2": (S.QUEUED, None),
        "t3": (S.QUEUED, None),
    }
    [attempt] = await store.list_attempts("job-1", "t1")
    assert attempt.outcome == "interrupted" and attempt.finished_at is not None


# -- reading ------------------------------------------------------------------


async def test_count_tasks(store: Store) -> None:
    await store.create_job(job(), [*tasks(3), task("w", 4, depends_on=("t1",))])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1), start(2), finish(2, S.FAILED)])
    assert await store.count_tasks("job-1") == StatusCounts(
        pending=1, queued=1, running=1, failed=1
    )
    await store.create_job(job("empty"), [])
    assert (await store.count_tasks("empty")).total == 0


async def test_list_tasks_pages_filters_and_searches(store: Store) -> None:
    await store.create_job(job(), tasks(25))
    await store.claim_tasks("job-1", "r1", 3)
    await store.record_attempts("job-1", [start(1), finish(1), start(2), finish(2, S.FAILED)])

    first = await store.list_tasks("job-1", limit=10)
    assert [t.seq for t in first] == list(range(1, 11))
    second = await store.list_tasks("job-1", after_seq=first[-1].seq, limit=10)
    assert [t.seq for t in second] == list(range(11, 21))
    assert len(await store.list_tasks("job-1", after_seq=20)) == 5

    done = await store.list_tasks("job-1", statuses=[S.SUCCEEDED, S.FAILED])
    assert [t.id for t in done] == ["t1", "t2"]
    assert await store.list_tasks("job-1", statuses=[]) == []
    found = await store.list_tasks("job-1", search="t1", limit=5)
    assert [t.id for t in found] == ["t1", "t10", "t11", "t12", "t13"]
    found = await store.list_tasks("job-1", search="2", statuses=[S.QUEUED], after_seq=3)
    assert [t.id for t in found] == ["t12", "t20", "t21", "t22", "t23", "t24", "t25"]


async def test_returned_tasks_are_copies(store: Store) -> None:
    await store.create_job(job(), [task("a", 1, spec={"list": [1]})])
    got = await store.get_task("job-1", "a")
    got.spec["list"].append(2)
    got.status = S.FAILED
    again = await store.get_task("job-1", "a")
    assert (again.spec, again.status) == ({"list": [1]}, S.QUEUED)


@pytest.mark.parametrize("result", [None, 0, "text", [1, None], {"a": {"b": 1.5}}])
async def test_any_json_result_roundtrips(store: Store, result: object) -> None:
    await store.create_job(job(), tasks(1))
    await store.claim_tasks("job-1", "r1", 1)
    await store.record_attempts("job-1", [start(1), finish(1, result=result)])
    assert (await store.get_task("job-1", "t1")).result == result


async def test_missing_jobs_and_tasks(store: Store) -> None:
    await store.create_job(job(), tasks(1))
    with pytest.raises(JobNotFound):
        await store.get_job("nope")
    with pytest.raises(JobNotFound):
        await store.count_tasks("nope")
    with pytest.raises(JobNotFound):
        await store.list_tasks("nope")
    with pytest.raises(JobNotFound):
        await store.get_task("nope", "t1")
    with pytest.raises(JobNotFound):
        await store.list_attempts("nope", "t1")
    with pytest.raises(TaskNotFound):
        await store.get_task("job-1", "t9")
    with pytest.raises(TaskNotFound):
        await store.list_attempts("job-1", "t9")
    assert await store.list_attempts("job-1", "t1") == []


async def test_runner_info_survives_heartbeats(store: Store) -> None:
    await store.create_job(job(), [])
    info = RunnerInfo("r1", "host-b", 7, 1.0, 2.0, 60.0)
    await store.acquire_job("job-1", info, [JobStatus.QUEUED])
    await store.heartbeat("job-1", "r1", 3.0)
    got = (await store.get_job("job-1")).runner
    assert got == RunnerInfo("r1", "host-b", 7, 1.0, 3.0, 60.0)


async def test_response_cache(store: Store) -> None:
    assert await store.get_cached_response("k1") is None
    await store.put_cached_response("k1", {"choices": [{"n": 1}]}, 10.0)
    got = await store.get_cached_response("k1")
    assert got == {"choices": [{"n": 1}]}
    got["choices"].clear()  # what a caller does with its copy stays with it
    assert await store.get_cached_response("k1") == {"choices": [{"n": 1}]}
    await store.put_cached_response("k1", {"v": 2}, 11.0)
    assert await store.get_cached_response("k1") == {"v": 2}
    assert await store.get_cached_response("k2") is None


# -- files and job metadata (the /v1 Batch API) ----------------------------------


async def test_files_round_trip_newest_first(store: Store) -> None:
    first = StoredFile("file-a", "batch", "in.jsonl", 3, 10.0)
    second = StoredFile("file-b", "batch_output", "out.jsonl", 0, 20.0)
    await store.create_file(first, b"abc")
    await store.create_file(second, b"")
    assert await store.get_file("file-a") == first
    assert await store.read_file("file-a") == b"abc"
    assert await store.read_file("file-b") == b""
    assert await store.list_files() == [second, first]
    assert await store.list_files(purpose="batch") == [first]
    assert await store.list_files(limit=1) == [second]
    with pytest.raises(FileNotFound):
        await store.get_file("nope")
    with pytest.raises(FileNotFound):
        await store.read_file("nope")
    with pytest.raises(StoreError):
        await store.create_file(first, b"again")


async def test_job_metadata_is_kept(store: Store) -> None:
    metadata = {"openai_batch": {"endpoint": "/v1/chat/completions", "metadata": {"k": "v"}}}
    await store.create_job(job(metadata=metadata), tasks(1))
    assert (await store.get_job("job-1")).metadata == metadata
    await store.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    assert (await store.get_job("job-1")).metadata == metadata
