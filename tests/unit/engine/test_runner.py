"""The runner against the in-memory store: outcomes, retries, dependencies, stops."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from taskfleet.engine.runner import Runner
from taskfleet.errors import FatalError, RateLimited
from taskfleet.kinds.base import RunContext
from taskfleet.model import FailFast, JobStatus, Outcome, TaskStatus

from .conftest import make_job, spec

QUEUED = {JobStatus.QUEUED}


class ScriptedKind:
    """A kind whose behaviour per task id is given by a function; records every call."""

    name = "scripted"

    def __init__(self, behave: Any = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.running = 0
        self.max_running = 0
        self.behave = behave

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return dict(spec)

    async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        self.calls.append((ctx.task_id, ctx.attempt))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.behave is not None:
                return await self.behave(spec, ctx)
            await asyncio.sleep(spec.get("sleep", 0))
            return Outcome.success({"id": ctx.task_id})
        finally:
            self.running -= 1


def runner_for(store: Any, kind: ScriptedKind, job_id: str = "j1") -> Runner:
    return Runner(store, job_id, kinds=lambda name: kind)


async def statuses(store: Any, job_id: str = "j1") -> dict[str, TaskStatus]:
    return {t.id: t.status for t in await store.list_tasks(job_id)}


async def test_all_succeed_and_concurrency_is_bounded(store: Any) -> None:
    await make_job(store, [spec(f"t{i}", i, sleep=0.01) for i in range(1, 41)], concurrency=4)
    kind = ScriptedKind()
    job = await runner_for(store, kind).run(QUEUED)
    assert job.status is JobStatus.COMPLETED
    assert set((await statuses(store)).values()) == {TaskStatus.SUCCEEDED}
    assert kind.max_running == 4
    assert len(kind.calls) == 40


async def test_retries_then_fails_for_good(store: Any) -> None:
    async def always_fail(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        return Outcome.failure("boom")

    await make_job(store, [spec("a", 1, retries=2)], concurrency=2)
    kind = ScriptedKind(always_fail)
    job = await runner_for(store, kind).run(QUEUED)
    assert job.status is JobStatus.FAILED
    assert kind.calls == [("a", 1), ("a", 2), ("a", 3)]
    task = await store.get_task("j1", "a")
    assert task.status is TaskStatus.FAILED and task.error == "boom" and task.attempts == 3
    assert [a.outcome for a in await store.list_attempts("j1", "a")] == ["failed"] * 3


async def test_fatal_errors_are_not_retried(store: Any) -> None:
    async def fatal(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        raise FatalError("bad request")

    await make_job(store, [spec("a", 1, retries=5)])
    kind = ScriptedKind(fatal)
    await runner_for(store, kind).run(QUEUED)
    assert kind.calls == [("a", 1)]


async def test_rate_limit_waits_do_not_spend_retries(store: Any) -> None:
    async def limited_twice(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        if ctx.attempt <= 2:
            raise RateLimited("slow down", retry_after_s=0.01)
        return Outcome.success("ok")

    await make_job(store, [spec("a", 1, retries=0)])
    kind = ScriptedKind(limited_twice)
    job = await runner_for(store, kind).run(QUEUED)
    assert job.status is JobStatus.COMPLETED
    assert len(kind.calls) == 3


async def test_dependencies_run_in_order_and_failures_skip_dependants(store: Any) -> None:
    async def fail_b(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        return Outcome.failure("no") if ctx.task_id == "b" else Outcome.success(None)

    specs = [
        spec("a", 1),
        spec("b", 2, depends_on=("a",), retries=0),
        spec("c", 3, depends_on=("b",)),
        spec("d", 4, depends_on=("c",)),
        spec("e", 5, depends_on=("a",)),
    ]
    await make_job(store, specs, concurrency=4)
    kind = ScriptedKind(fail_b)
    job = await runner_for(store, kind).run(QUEUED)
    assert job.status is JobStatus.FAILED
    order = [task_id for task_id, _ in kind.calls]
    assert order.index("a") < order.index("b") and order.index("a") < order.index("e")
    assert "c" not in order and "d" not in order
    assert await statuses(store) == {
        "a": TaskStatus.SUCCEEDED,
        "b": TaskStatus.FAILED,
        "c": TaskStatus.SKIPPED,
        "d": TaskStatus.SKIPPED,
        "e": TaskStatus.SUCCEEDED,
    }


async def test_priority_order_with_one_slot(store: Any) -> None:
    specs = [spec("low", 1, priority=0), spec("crit", 2, priority=3), spec("med", 3, priority=1)]
    await make_job(store, specs, concurrency=1)
    kind = ScriptedKind()
    await runner_for(store, kind).run(QUEUED)
    assert [c[0] for c in kind.calls] == ["crit", "med", "low"]


async def test_profile_and_resource_limits(store: Any) -> None:
    per_task: dict[str, int] = {}
    active: dict[str, int] = {"builder": 0, "gpu": 0}

    async def track(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        group = spec["group"]
        active[group] += 1
        per_task[group] = max(per_task.get(group, 0), active[group])
        await asyncio.sleep(0.01)
        active[group] -= 1
        return Outcome.success(None)

    specs = [spec(f"b{i}", i, profile="builder", group="builder") for i in range(1, 7)]
    specs += [spec(f"g{i}", 10 + i, resources=("gpu",), group="gpu") for i in range(1, 5)]
    await make_job(
        store, specs, concurrency=8, profile_limits={"builder": 2}, resource_limits={"gpu": 1}
    )
    await runner_for(store, ScriptedKind(track)).run(QUEUED)
    assert per_task == {"builder": 2, "gpu": 1}


async def test_overlapping_scopes_never_run_together(store: Any) -> None:
    active: set[str] = set()
    overlaps: list[set[str]] = []

    async def track(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        active.add(ctx.task_id)
        if {"a", "b"} <= active:
            overlaps.append(set(active))
        await asyncio.sleep(0.02)
        active.discard(ctx.task_id)
        return Outcome.success(None)

    specs = [spec("a", 1, scope=("src/auth/*.py",)), spec("b", 2, scope=("src/auth/x.py",))]
    specs.append(spec("c", 3, scope=("docs",)))
    await make_job(store, specs, concurrency=3)
    await runner_for(store, ScriptedKind(track)).run(QUEUED)
    assert overlaps == []


async def test_timeout_is_a_retryable_failure(store: Any) -> None:
    await make_job(store, [spec("a", 1, sleep=5, timeout_s=0.05, retries=1)])
    kind = ScriptedKind()
    job = await runner_for(store, kind).run(QUEUED)
    assert job.status is JobStatus.FAILED
    task = await store.get_task("j1", "a")
    assert task.attempts == 2 and "timed out" in (task.error or "")


async def test_fail_fast_now_cancels_running_and_open_tasks(store: Any) -> None:
    async def behave(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        if ctx.task_id == "bad":
            await asyncio.sleep(0.02)
            return Outcome.failure("bad")
        await asyncio.sleep(10)
        return Outcome.success(None)

    specs = [spec("bad", 1, retries=0), spec("slow", 2), spec("later", 3)]
    await make_job(store, specs, concurrency=2, fail_fast=FailFast.NOW)
    job = await runner_for(store, ScriptedKind(behave)).run(QUEUED)
    assert job.status is JobStatus.FAILED
    assert await statuses(store) == {
        "bad": TaskStatus.FAILED,
        "slow": TaskStatus.CANCELLED,
        "later": TaskStatus.CANCELLED,
    }


async def test_graceful_fail_fast_lets_running_tasks_finish(store: Any) -> None:
    async def behave(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        if ctx.task_id == "bad":
            return Outcome.failure("bad")
        await asyncio.sleep(0.05)
        return Outcome.success(None)

    specs = [spec("slow", 1), spec("bad", 2, retries=0), spec("later", 3)]
    await make_job(store, specs, concurrency=2, fail_fast=FailFast.GRACEFUL)
    await runner_for(store, ScriptedKind(behave)).run(QUEUED)
    assert await statuses(store) == {
        "slow": TaskStatus.SUCCEEDED,
        "bad": TaskStatus.FAILED,
        "later": TaskStatus.CANCELLED,
    }


async def test_fail_fast_starts_nothing_after_an_instant_failure(store: Any) -> None:
    """Attempts that end without suspending: the failure stops the starts that follow it."""

    class InstantKind(ScriptedKind):
        async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
            self.calls.append((ctx.task_id, ctx.attempt))
            return Outcome.failure("bad") if ctx.task_id == "t2" else Outcome.success(None)

    specs = [spec(f"t{i}", i, retries=0) for i in range(1, 9)]
    await make_job(store, specs, concurrency=8, fail_fast=FailFast.GRACEFUL)
    kind = InstantKind()
    job = await runner_for(store, kind).run(QUEUED)
    assert job.status is JobStatus.FAILED
    assert kind.calls == [("t1", 1), ("t2", 1)]
    got = await statuses(store)
    assert (got["t1"], got["t2"]) == (TaskStatus.SUCCEEDED, TaskStatus.FAILED)
    assert {got[f"t{i}"] for i in range(3, 9)} == {TaskStatus.CANCELLED}


async def test_stop_then_resume_runs_only_what_had_not_succeeded(store: Any) -> None:
    started = asyncio.Event()

    async def behave(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        if ctx.task_id == "t1":
            started.set()
        await asyncio.sleep(0.05)
        return Outcome.success(ctx.task_id)

    await make_job(store, [spec(f"t{i}", i) for i in range(1, 9)], concurrency=2)
    kind = ScriptedKind(behave)
    runner = runner_for(store, kind)
    run = asyncio.create_task(runner.run(QUEUED))
    await started.wait()
    runner.request_stop()
    job = await run
    assert job.status is JobStatus.INTERRUPTED
    done_first = {t for t, s in (await statuses(store)).items() if s is TaskStatus.SUCCEEDED}
    assert done_first == {"t1", "t2"}  # the two running ones finished, nothing new started
    kind2 = ScriptedKind(behave)
    job = await runner_for(store, kind2).run({JobStatus.INTERRUPTED})
    assert job.status is JobStatus.COMPLETED
    assert {c[0] for c in kind2.calls} == {f"t{i}" for i in range(3, 9)}


async def test_kill_interrupts_running_without_spending_retries(store: Any) -> None:
    started = asyncio.Event()

    async def behave(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        started.set()
        await asyncio.sleep(10)
        return Outcome.success(None)

    await make_job(store, [spec("a", 1, retries=0)], concurrency=1)
    runner = runner_for(store, ScriptedKind(behave))
    run = asyncio.create_task(runner.run(QUEUED))
    await started.wait()
    runner.request_kill()
    job = await run
    assert job.status is JobStatus.INTERRUPTED
    task = await store.get_task("j1", "a")
    assert task.status is TaskStatus.QUEUED and task.failures == 0
    assert [a.outcome for a in await store.list_attempts("j1", "a")] == ["interrupted"]


async def test_cancel_from_outside_is_noticed_by_heartbeat(store: Any) -> None:
    started = asyncio.Event()

    async def behave(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        started.set()
        await asyncio.sleep(30)
        return Outcome.success(None)

    await make_job(store, [spec("a", 1), spec("b", 2)], concurrency=1)
    runner = Runner(store, "j1", kinds=lambda name: ScriptedKind(behave), lease_s=0.3)
    run = asyncio.create_task(runner.run(QUEUED))
    await started.wait()
    await store.cancel_open_tasks("j1", 0.0)
    await store.set_job_status("j1", JobStatus.CANCELLED, 0.0)
    job = await asyncio.wait_for(run, 5)
    assert job.status is JobStatus.CANCELLED
    assert set((await statuses(store)).values()) == {TaskStatus.CANCELLED}


async def test_validation_reopens_rejected_tasks(store: Any, tmp_path: Any) -> None:
    marker = tmp_path / "validated"
    # First validation rejects b; the second accepts.
    cmd = f"if [ -e {marker} ]; then exit 0; else touch {marker}; echo b; exit 1; fi"
    await make_job(store, [spec("a", 1), spec("b", 2)], validate_cmd=cmd, cwd=str(tmp_path))
    kind = ScriptedKind()
    job = await runner_for(store, kind).run(QUEUED)
    assert job.status is JobStatus.COMPLETED
    assert sorted(kind.calls) == [("a", 1), ("b", 1), ("b", 2)]
    assert (await store.get_job("j1")).validation_round == 1


async def test_validation_rounds_are_bounded(store: Any, tmp_path: Any) -> None:
    await make_job(store, [spec("a", 1)], validate_cmd="echo a; exit 1", validate_rounds=2)
    kind = ScriptedKind()
    job = await runner_for(store, kind).run(QUEUED)
    assert job.status is JobStatus.FAILED
    assert len(kind.calls) == 3  # the first run and two validation rounds
    task = await store.get_task("j1", "a")
    assert task.status is TaskStatus.FAILED and task.error == "validation failed"


async def test_many_tasks_stream_through_small_windows(store: Any) -> None:
    await make_job(store, [spec(f"t{i}", i) for i in range(1, 2001)], concurrency=16)
    kind = ScriptedKind()
    runner = Runner(store, "j1", kinds=lambda name: kind, window=64)
    job = await runner.run(QUEUED)
    assert job.status is JobStatus.COMPLETED
    assert len(kind.calls) == 2000
    counts = await store.count_tasks("j1")
    assert counts.succeeded == 2000


async def test_instant_attempts_do_not_starve_the_loop(store: Any) -> None:
    """Attempts that end without suspending must still let stops, flushes and heartbeats run."""

    class InstantKind(ScriptedKind):
        async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
            self.calls.append((ctx.task_id, ctx.attempt))
            return Outcome.success(None)

    total = 20_000
    await make_job(store, [spec(f"t{i}", i) for i in range(1, total + 1)], concurrency=8)
    kind = InstantKind()
    runner = runner_for(store, kind)

    async def stop_soon() -> None:
        while len(kind.calls) < 100:
            await asyncio.sleep(0)
        runner.request_stop()

    stopper = asyncio.create_task(stop_soon())
    job = await runner.run(QUEUED)
    await stopper
    assert job.status is JobStatus.INTERRUPTED
    assert len(kind.calls) < total
    counts = await store.count_tasks("j1")
    assert counts.succeeded == len(kind.calls)


async def test_a_retry_due_during_a_stop_is_kept_for_resume(store: Any) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def behave(spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        if ctx.attempt == 1:
            started.set()
            await release.wait()
            return Outcome.failure("flaky")
        return Outcome.success("second time")

    await make_job(store, [spec("a", 1, retries=2)], concurrency=1)
    runner = runner_for(store, ScriptedKind(behave))
    run = asyncio.create_task(runner.run(QUEUED))
    await started.wait()
    runner.request_stop()
    release.set()
    job = await run
    assert job.status is JobStatus.INTERRUPTED
    task = await store.get_task("j1", "a")
    assert (task.status, task.failures) == (TaskStatus.PENDING, 1)
    job = await runner_for(store, ScriptedKind(behave)).run({JobStatus.INTERRUPTED})
    assert job.status is JobStatus.COMPLETED
