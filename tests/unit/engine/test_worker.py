"""The worker against the in-memory store: claims oldest first, shares the queue, hands back."""

from __future__ import annotations

import asyncio

from taskfleet.model import AttemptStarted, Job, JobStatus, RunnerInfo, TaskStatus
from taskfleet.service.worker import Worker
from taskfleet.store.memory.store import MemoryStore

from .conftest import make_job, spec


async def test_once_runs_the_queued_jobs_oldest_first_and_leaves_the_rest(
    store: MemoryStore,
) -> None:
    for job_id in ("first", "second", "third"):
        await make_job(store, [spec("t1", 1, duration=0)], job_id=job_id)
    # A user's run of it was interrupted: it waits for that user, not for a worker.
    user = RunnerInfo("host-a:9:ef", "host-a", 9, 0.0, 0.0, 30.0)
    await store.acquire_job("second", user, [JobStatus.QUEUED])
    await store.release_job("second", user.runner_id, JobStatus.INTERRUPTED, 0.0)
    messages: list[str] = []
    await Worker(store, poll_s=0.01, on_message=messages.append).run(once=True)
    assert messages[1:] == [
        "taskfleet worker: job first completed",
        "taskfleet worker: job third completed",
    ]
    assert (await store.get_job("second")).status is JobStatus.INTERRUPTED
    assert (await store.get_task("second", "t1")).status is TaskStatus.QUEUED


async def test_two_workers_share_the_queue_and_run_every_task_once(store: MemoryStore) -> None:
    for n in range(6):
        await make_job(
            store, [spec(f"t{i}", i, duration=0.01) for i in range(1, 4)], job_id=f"j{n}"
        )
    workers = [Worker(store, poll_s=0.01) for _ in range(2)]
    await asyncio.gather(*(worker.run(once=True) for worker in workers))
    for n in range(6):
        assert (await store.get_job(f"j{n}")).status is JobStatus.COMPLETED
        attempts = [a for i in range(1, 4) for a in await store.list_attempts(f"j{n}", f"t{i}")]
        assert len(attempts) == 3


async def test_a_worker_stopped_while_claiming_hands_the_job_back(store: MemoryStore) -> None:
    class StopDuringClaim(MemoryStore):
        worker: Worker

        async def claim_queued_job(self, runner: RunnerInfo) -> Job | None:
            claimed = await super().claim_queued_job(runner)
            self.worker.stop()
            return claimed

    racing = StopDuringClaim()
    await racing.open()
    await make_job(racing, [spec("t1", 1, duration=0)], job_id="j1")
    racing.worker = Worker(racing, poll_s=0.01)
    await racing.worker.run()
    job = await racing.get_job("j1")
    assert job.status is JobStatus.QUEUED
    assert (await racing.get_task("j1", "t1")).status is TaskStatus.QUEUED
    await racing.close()


async def test_the_memory_store_ends_an_idle_wait_when_a_job_is_queued(
    store: MemoryStore,
) -> None:
    waiting = asyncio.create_task(store.wait_for_queued_job(60))
    await make_job(store, [spec("t1", 1, duration=0)], job_id="late")
    await asyncio.wait_for(waiting, timeout=5)
    worker = RunnerInfo("worker@host-a:9:ef", "host-a", 9, 0.0, 0.0, 30.0)
    await store.acquire_job("late", worker, [JobStatus.QUEUED])
    await store.release_job("late", worker.runner_id, JobStatus.INTERRUPTED, 0.0)
    waiting = asyncio.create_task(store.wait_for_queued_job(60))
    await store.set_job_status("late", JobStatus.QUEUED, 0.0)  # handed back
    await asyncio.wait_for(waiting, timeout=5)


async def test_a_job_whose_worker_died_on_another_host_is_taken_up(store: MemoryStore) -> None:
    await make_job(store, [spec(f"t{i}", i, duration=0) for i in range(1, 4)], job_id="orphan")
    dead = RunnerInfo("worker@elsewhere:77:ab", "elsewhere", 77, 0.0, 0.0, 30.0)  # lease long over
    await store.acquire_job("orphan", dead, [JobStatus.QUEUED])
    await store.claim_tasks("orphan", dead.runner_id, 2)
    await store.record_attempts("orphan", [AttemptStarted(1, 1, dead.runner_id, 1.0)])
    messages: list[str] = []
    await Worker(store, poll_s=0.01, on_message=messages.append).run(once=True)
    assert messages[1:] == [
        "taskfleet worker: job orphan lost its worker (pid 77 on elsewhere);"
        " it waits for the next worker",
        "taskfleet worker: job orphan completed",
    ]
    assert {t.status for t in await store.list_tasks("orphan")} == {TaskStatus.SUCCEEDED}
    # The attempt cut by the death did not spend a retry.
    assert (await store.get_task("orphan", "t1")).failures == 0


async def test_a_job_whose_user_run_died_is_left_to_its_user(store: MemoryStore) -> None:
    await make_job(store, [spec("t1", 1, duration=0)], job_id="mine")
    gone = RunnerInfo("elsewhere:78:cd", "elsewhere", 78, 0.0, 0.0, 30.0)
    await store.acquire_job("mine", gone, [JobStatus.QUEUED])
    await Worker(store, poll_s=0.01).run(once=True)
    assert (await store.get_job("mine")).status is JobStatus.INTERRUPTED
