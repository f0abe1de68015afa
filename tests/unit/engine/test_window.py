"""The runner's window of claimed tasks: refills, the exhausted-claim rule, order."""

from __future__ import annotations

from taskfleet.engine.window import TaskWindow
from taskfleet.model import JobOptions
from taskfleet.store.memory.store import MemoryStore

from .conftest import make_job, spec


async def test_refills_only_when_half_has_started(store: MemoryStore) -> None:
    await make_job(store, [spec(f"t{i}", i) for i in range(1, 21)])
    window = TaskWindow(store, "j1", "r1", JobOptions(), size=8)
    await window.refill(flush_count=0)
    assert [c.seq for c in window.waiting] == list(range(1, 9))
    window.take(window.waiting[:4])  # half started: still enough
    await window.refill(flush_count=0)
    assert [c.seq for c in window.waiting] == [5, 6, 7, 8]
    window.take(window.waiting[:1])
    await window.refill(flush_count=0)
    assert [c.seq for c in window.waiting] == [6, 7, 8, *range(9, 17)]
    assert set(window.tasks) == set(range(1, 17))


async def test_a_short_claim_waits_for_a_new_commit(store: MemoryStore) -> None:
    await make_job(store, [spec("a", 1), spec("b", 2, depends_on=("a",))])
    window = TaskWindow(store, "j1", "r1", JobOptions(), size=8)
    await window.refill(flush_count=3)
    assert [c.seq for c in window.waiting] == [1]
    window.take(window.waiting)
    calls = 0
    claim = store.claim_tasks

    async def counting_claim(*args: object) -> list:  # type: ignore[type-arg]
        nonlocal calls
        calls += 1
        return await claim(*args)  # type: ignore[arg-type]

    store.claim_tasks = counting_claim  # type: ignore[method-assign]
    await window.refill(flush_count=3)
    assert calls == 0  # nothing was committed since the short claim
    await window.refill(flush_count=3, force=True)
    await window.refill(flush_count=4)
    assert calls == 2


async def test_put_back_keeps_start_order(store: MemoryStore) -> None:
    specs = [spec("low", 1, priority=0), spec("high", 2, priority=9), spec("mid", 3, priority=5)]
    await make_job(store, specs)
    window = TaskWindow(store, "j1", "r1", JobOptions(), size=8)
    await window.refill(flush_count=0)
    assert [c.seq for c in window.waiting] == [2, 3, 1]
    high, mid, low = window.waiting
    window.take([mid])  # not the head
    assert window.waiting == [high, low]
    window.take([high])
    assert window.waiting == [low]
    window.put_back([mid, high])
    assert window.waiting == [high, mid, low]
    window.forget(1)
    assert set(window.tasks) == {2, 3}
