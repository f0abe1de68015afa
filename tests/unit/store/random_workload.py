"""Random but realistic workloads, run on a store and on the memory store side by side.

The memory store is the reference: after every step both must have answered
the same and hold the same tasks, attempts and counts.
"""

from __future__ import annotations

import random

from taskfleet.model import JobStatus, Task, TaskSpec, TaskStatus, TaskUpdate
from taskfleet.store.base import Store
from taskfleet.store.memory.store import MemoryStore

from .conftest import finish, job, runner, start, task

S = TaskStatus


async def assert_matches_memory(
    store: Store, seed: int, *, size: int = 40, steps: int = 150
) -> None:
    """Run one seeded workload on ``store`` and on a MemoryStore; fail at the first difference."""
    stores: list[Store] = [MemoryStore(), store]
    specs = random_job(random.Random(seed), size)
    for each in stores:
        await each.open()
        await each.create_job(job(), specs)
        await each.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    rngs = [random.Random(seed), random.Random(seed)]
    claims: list[dict[str, str]] = [{}, {}]
    try:
        for step in range(steps):
            answers = [
                await random_step(rng, each, 10.0 * step, claimed)
                for rng, each, claimed in zip(rngs, stores, claims, strict=True)
            ]
            assert answers[0] == answers[1], f"step {step}"
            assert await snapshot(stores[0]) == await snapshot(stores[1]), f"step {step}"
    finally:
        for each in stores:
            await each.close()


def random_job(rng: random.Random, size: int) -> list[TaskSpec]:
    specs = []
    for seq in range(1, size + 1):
        # Any task may depend on any other as long as the graph stays acyclic:
        # edges go from a higher id number to a lower one, whatever the input order.
        number = (seq * 7) % size + 1
        lower = list(range(1, number))
        deps = tuple(f"n{d}" for d in rng.sample(lower, min(len(lower), rng.choice([0, 0, 1, 2]))))
        specs.append(task(f"n{number}", seq, priority=rng.randint(0, 3), depends_on=deps))
    return specs


async def in_flight(store: Store, claimed: dict[str, str]) -> list[Task]:
    """Tasks leased or claimed by a runner; drops claims that started or ended."""
    tasks_now = await store.list_tasks("job-1")
    for t in tasks_now:
        if t.lease_owner is not None or t.status not in (S.QUEUED, S.PENDING):
            claimed.pop(t.id, None)
    return [t for t in tasks_now if t.lease_owner is not None or t.id in claimed]


async def random_step(
    rng: random.Random, store: Store, clock: float, claimed: dict[str, str]
) -> object:
    """One random but realistic operation; returns what the store answered.

    ``claimed`` (task id -> runner) remembers claims not started yet, whose
    lease the store keeps in memory until the start.
    """
    leased = await in_flight(store, claimed)
    choice = rng.random()
    if choice < 0.35:
        owner = rng.choice(["r1", "r2"])
        got = [t.id for t in await store.claim_tasks("job-1", owner, 5)]
        claimed.update(dict.fromkeys(got, owner))
        return got
    if choice < 0.75 and leased:
        updates: list[TaskUpdate] = []
        for t in rng.sample(leased, min(len(leased), 4)):
            attempt = t.attempts + (t.status is not TaskStatus.RUNNING)
            if t.status is not TaskStatus.RUNNING:
                owner = t.lease_owner or claimed[t.id]
                updates.append(start(t.seq, attempt=attempt, runner_id=owner, at=clock))
            if rng.random() < 0.8:
                status = rng.choice([S.SUCCEEDED, S.SUCCEEDED, S.FAILED, S.PENDING, S.QUEUED])
                updates.append(finish(t.seq, status, attempt=attempt, at=clock + 1, result=[t.id]))
        return await store.record_attempts("job-1", updates)
    if choice < 0.85 and leased:
        for task_id in [task_id for task_id, owner in claimed.items() if owner == "r1"]:
            del claimed[task_id]
        return await store.release_job("job-1", "r1", JobStatus.RUNNING, clock)
    if choice < 0.9:
        if rng.random() >= 0.2:
            return None
        claimed.clear()
        return await store.cancel_open_tasks("job-1", clock)
    if not leased:  # retries and validation run when nothing is in flight
        claimed.clear()
        if rng.random() < 0.5:
            return await store.reopen_tasks("job-1", statuses=[S.FAILED, S.SKIPPED, S.CANCELLED])
        # Central validation judges ended tasks (it may print other lines too).
        ended = [t.id for t in await store.list_tasks("job-1") if t.status.is_final]
        ids = [*rng.sample(ended, min(len(ended), 3)), "n0"]
        return await store.fail_tasks("job-1", ids, "validation")
    return None


async def snapshot(store: Store) -> object:
    tasks_now = await store.list_tasks("job-1")
    attempts = [await store.list_attempts("job-1", t.id) for t in tasks_now]
    return tasks_now, attempts, await store.count_tasks("job-1")
