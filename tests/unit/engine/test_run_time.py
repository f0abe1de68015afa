"""Time spent running is the sum of the runs' spans, in every store: an acquire starts a
run, a release (or a cancel, or the reaping of a dead runner) ends it, and the idle
time between runs is not counted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import pytest_asyncio

from taskfleet.engine.liveness import reap_if_dead
from taskfleet.model import Job, JobOptions, JobStatus, RunnerInfo, TaskSpec
from taskfleet.store.base import Store

FROM = (JobStatus.QUEUED, JobStatus.INTERRUPTED)


def _runner(runner_id: str, at: float, host: str = "elsewhere", lease_s: float = 30) -> RunnerInfo:
    return RunnerInfo(runner_id, host, 4242, at - 1, heartbeat_at=at, lease_s=lease_s)


@pytest_asyncio.fixture
async def store(each_store: Store) -> Store:
    """Each kind of store, holding job ``j`` (one task, queued)."""
    job = Job("j", "j", JobStatus.QUEUED, JobOptions(), created_at=50.0, total=0)
    await each_store.create_job(job, [TaskSpec(id="t", seq=1, kind="simulate", spec={})])
    return each_store


async def test_runs_add_up_and_the_gap_between_them_does_not_count(store: Store) -> None:
    await store.acquire_job("j", _runner("r1", 100.0), FROM)
    assert (await store.get_job("j")).run_time_s(104.0) == pytest.approx(4.0)
    await store.release_job("j", "r1", JobStatus.INTERRUPTED, 110.0)
    stopped = await store.get_job("j")
    assert (stopped.run_started_at, stopped.run_time_s(500.0)) == (None, pytest.approx(10.0))

    await store.acquire_job("j", _runner("r2", 200.0), FROM)
    again = await store.get_job("j")
    assert again.started_at == 100.0  # the first start stays the job's start
    assert again.run_time_s(203.0) == pytest.approx(13.0)
    await store.release_job("j", "r2", JobStatus.COMPLETED, 205.0)

    done = await store.get_job("j")
    assert done.run_time_s(1000.0) == pytest.approx(15.0)
    assert done.finished_at == 205.0


async def test_a_cancel_from_elsewhere_ends_the_run(store: Store) -> None:
    await store.acquire_job("j", _runner("r1", 100.0), FROM)

    await store.set_job_status("j", JobStatus.CANCELLED, 107.0)

    assert (await store.get_job("j")).run_time_s(900.0) == pytest.approx(7.0)


async def test_a_dead_runner_s_run_ends_at_its_last_heartbeat(store: Store) -> None:
    await store.acquire_job("j", _runner("r1", 100.0, lease_s=5), FROM)
    await store.heartbeat("j", "r1", 120.0)

    reaped = await reap_if_dead(store, await store.get_job("j"), now=400.0)

    assert reaped.status is JobStatus.INTERRUPTED
    assert reaped.run_time_s(400.0) == pytest.approx(20.0)


async def test_jobs_stored_before_keep_their_one_known_span(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskfleet.store.sqlite import schema as sqlite_schema
    from taskfleet.store.sqlite.store import SqliteStore

    path = str(tmp_path / "v5.db")
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_schema, "MIGRATIONS", sqlite_schema.MIGRATIONS[:5])
        patch.setattr(sqlite_schema, "SCHEMA_VERSION", 5)
        sqlite_schema.connect(path).close()
    with sqlite3.connect(path) as conn:
        insert = (
            "INSERT INTO jobs (job_id, name, status, options, created_at, started_at, "
            "finished_at, heartbeat_at) VALUES (?, '', ?, '{}', 1.0, ?, ?, ?)"
        )
        conn.execute(insert, ("ended", "completed", 10.0, 25.0, 20.0))
        conn.execute(insert, ("stopped", "interrupted", 10.0, None, 14.0))
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        ended, stopped = await store.get_job("ended"), await store.get_job("stopped")
    finally:
        await store.close()
    assert ended.run_time_s(1000.0) == pytest.approx(15.0)
    assert stopped.run_time_s(1000.0) == pytest.approx(4.0)
