"""What only the PostgreSQL store has: a server, migrations under a lock, many processes.

The contract itself runs on PostgreSQL through ``STORE_FACTORIES``; these
tests add what a shared database must survive: concurrent opens, workers
racing for queued jobs, locks held by others, a dropped connection.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_asyncio

from pg import PostgresServer
from taskfleet.errors import JobConflict, StoreError, UsageError
from taskfleet.model import JobStatus, TaskStatus
from taskfleet.service.worker import Worker
from taskfleet.store import open_store
from taskfleet.store.postgres import reads as postgres_reads
from taskfleet.store.postgres import schema as postgres_schema
from taskfleet.store.postgres.store import PostgresStore

from .conftest import job, runner, tasks
from .random_workload import assert_matches_memory


@pytest_asyncio.fixture
async def pg(pg_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_url)
    await store.open()
    yield store
    await store.close()


async def raw(url: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


async def test_open_store_url_forms(pg_url: str) -> None:
    for url in (pg_url, pg_url.replace("postgresql://", "postgres://")):
        store = open_store(url)
        assert isinstance(store, PostgresStore) and store.url == url
    alchemy = open_store(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    assert isinstance(alchemy, PostgresStore) and alchemy.url == pg_url


def test_without_psycopg_the_url_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "taskfleet.store.postgres.store", raising=False)
    monkeypatch.delitem(sys.modules, "taskfleet.store.postgres.schema", raising=False)
    with pytest.raises(UsageError, match=r"taskfleet\[postgres\]"):
        open_store("postgresql://nobody@127.0.0.1/none")


async def test_schema_version_and_reopen(pg_url: str) -> None:
    for _ in range(2):  # reopening must not migrate again
        store = PostgresStore(pg_url)
        await store.open()
        await store.close()
    conn = await raw(pg_url)
    cursor = await conn.execute("SELECT version FROM schema_version ORDER BY version")
    versions = [row[0] for row in await cursor.fetchall()]
    assert versions == [1, 2, 3, 4] == list(range(1, postgres_schema.SCHEMA_VERSION + 1))
    await conn.close()


async def test_many_processes_may_open_a_new_database_at_once(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(6)]
    await asyncio.gather(*(store.open() for store in stores))
    await stores[0].create_job(job(), tasks(2))
    assert [(await store.get_job("job-1")).total for store in stores] == [2] * 6
    for store in stores:
        await store.close()


async def test_foreign_and_newer_databases_are_refused(pg_server: PostgresServer) -> None:
    foreign = pg_server.create_database()
    conn = await raw(foreign)
    await conn.execute("CREATE TABLE jobs (id int)")
    await conn.close()
    with pytest.raises(UsageError, match="not a taskfleet database"):
        await PostgresStore(foreign).open()

    newer = pg_server.create_database()
    store = PostgresStore(newer)
    await store.open()
    await store.close()
    conn = await raw(newer)
    await conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    await conn.close()
    with pytest.raises(UsageError, match="upgrade taskfleet"):
        await PostgresStore(newer).open()


async def test_unreachable_server_and_closed_store_raise_store_errors() -> None:
    with pytest.raises(StoreError, match="cannot open") as caught:
        await PostgresStore("postgresql://nobody:secret@127.0.0.1:1/none").open()
    assert "secret" not in str(caught.value)
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    with pytest.raises(StoreError, match="not open"):
        await PostgresStore("postgresql://nobody@127.0.0.1:1/none").get_job("job-1")


async def test_workers_racing_for_queued_jobs_never_share_one(pg_url: str) -> None:
    setup = PostgresStore(pg_url)
    await setup.open()
    for number in range(12):
        await setup.create_job(job(f"job-{number:02}", created_at=float(number)), tasks(1))
    workers = [PostgresStore(pg_url) for _ in range(4)]
    await asyncio.gather(*(worker.open() for worker in workers))

    async def drain(worker: PostgresStore, name: str) -> list[str]:
        taken = []
        while (claimed := await worker.claim_queued_job(runner(name))) is not None:
            taken.append(claimed.job_id)
        return taken

    taken = await asyncio.gather(*(drain(w, f"w{i}") for i, w in enumerate(workers)))
    everything = [job_id for batch in taken for job_id in batch]
    assert sorted(everything) == [f"job-{number:02}" for number in range(12)]
    for job_id in everything:
        held = (await setup.get_job(job_id)).runner
        owner = next(f"w{i}" for i, batch in enumerate(taken) if job_id in batch)
        assert held is not None and held.runner_id == owner
    for store in [setup, *workers]:
        await store.close()


async def test_a_job_locked_by_another_worker_is_skipped_not_waited_for(
    pg: PostgresStore, pg_url: str
) -> None:
    await pg.create_job(job("old", created_at=1.0), [])
    await pg.create_job(job("new", created_at=2.0), [])
    other = await raw(pg_url)
    async with other.transaction():
        await other.execute("SELECT 1 FROM jobs WHERE job_id = 'old' FOR UPDATE")
        claimed = await asyncio.wait_for(pg.claim_queued_job(runner("w1")), timeout=5)
        assert claimed is not None and claimed.job_id == "new"
    await other.close()
    claimed = await pg.claim_queued_job(runner("w2"))
    assert claimed is not None and claimed.job_id == "old"


async def test_concurrent_acquires_of_one_job_have_one_winner(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(5)]
    await asyncio.gather(*(store.open() for store in stores))
    await stores[0].create_job(job(), [])
    outcomes = await asyncio.gather(
        *(
            store.acquire_job("job-1", runner(f"r{i}"), [JobStatus.QUEUED])
            for i, store in enumerate(stores)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(outcome, BaseException) for outcome in outcomes) == 1
    assert all(isinstance(o, JobConflict) for o in outcomes if isinstance(o, BaseException))
    for store in stores:
        await store.close()


async def test_driver_errors_become_store_errors(pg: PostgresStore, pg_url: str) -> None:
    await pg.create_job(job(), tasks(1))
    await pg.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    assert pg._conn is not None
    await pg._conn.execute("SET lock_timeout = '50ms'")
    other = await raw(pg_url)
    async with other.transaction():
        await other.execute("SELECT 1 FROM jobs WHERE job_id = 'job-1' FOR UPDATE")
        with pytest.raises(StoreError) as caught:
            await pg.heartbeat("job-1", "r1", 1.0)
    await other.close()
    assert isinstance(caught.value.__cause__, psycopg.errors.LockNotAvailable)
    assert await pg.heartbeat("job-1", "r1", 2.0) is JobStatus.RUNNING


async def test_a_dropped_connection_is_replaced(pg: PostgresStore, pg_url: str) -> None:
    await pg.create_job(job(), tasks(1))
    assert pg._conn is not None
    admin = await raw(pg_url)
    await admin.execute("SELECT pg_terminate_backend(%s)", (pg._conn.info.backend_pid,))
    await admin.close()
    with pytest.raises(StoreError):
        await pg.get_job("job-1")
    assert (await pg.get_job("job-1")).total == 1


async def test_two_writers_of_one_job_log_every_change_in_order(pg_url: str) -> None:
    runner_store, canceller = PostgresStore(pg_url), PostgresStore(pg_url)
    await runner_store.open()
    await canceller.open()
    await runner_store.create_job(job(), tasks(40))
    await runner_store.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    claimed = await runner_store.claim_tasks("job-1", "r1", 20)
    from .conftest import finish, start

    async def run() -> None:
        for t in claimed:
            await runner_store.record_attempts("job-1", [start(t.seq), finish(t.seq)])

    await asyncio.gather(run(), canceller.cancel_open_tasks("job-1", 5000.0))
    changes = await canceller.list_task_changes("job-1", limit=10_000)
    seqs = [change.change_seq for change in changes]
    assert seqs == sorted(seqs)
    final = {change.task_id: change.status for change in changes}
    assert {t.id: t.status for t in await canceller.list_tasks("job-1")} == final
    await runner_store.close()
    await canceller.close()


@pytest.mark.parametrize(
    "seed", [0, 1, *(pytest.param(seed, marks=pytest.mark.slow) for seed in range(2, 6))]
)
async def test_postgres_matches_memory_on_random_workloads(pg_url: str, seed: int) -> None:
    await assert_matches_memory(PostgresStore(pg_url), seed)


async def test_a_big_job_gets_statistics_and_runs(pg: PostgresStore, pg_url: str) -> None:
    from .conftest import finish, start, task

    count = 10_000
    specs = [
        task(f"t{seq}", seq, depends_on=("t1",) if seq % 100 == 0 else ())
        for seq in range(1, count + 1)
    ]
    assert (await pg.create_job(job(), specs)).total == count
    conn = await raw(pg_url)
    cursor = await conn.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'tasks'")
    row = await cursor.fetchone()
    assert row is not None and row[0] > 0
    await conn.close()
    await pg.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    claimed = await pg.claim_tasks("job-1", "r1", 1)
    assert [t.id for t in claimed] == ["t1"]
    await pg.record_attempts("job-1", [start(1), finish(1, TaskStatus.FAILED)])
    assert (await pg.count_tasks("job-1")).skipped == count // 100


async def test_a_cancelled_call_leaves_the_store_usable(pg: PostgresStore, pg_url: str) -> None:
    await pg.create_job(job(), tasks(1))
    await pg.acquire_job("job-1", runner("r1"), [JobStatus.QUEUED])
    other = await raw(pg_url)
    async with other.transaction():
        await other.execute("SELECT 1 FROM jobs WHERE job_id = 'job-1' FOR UPDATE")
        blocked = asyncio.create_task(pg.heartbeat("job-1", "r1", 5.0))
        await asyncio.sleep(0.3)
        assert not blocked.done()
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
    await other.close()
    assert await pg.heartbeat("job-1", "r1", 6.0) is JobStatus.RUNNING
    held = (await pg.get_job("job-1")).runner
    assert held is not None and held.heartbeat_at == 6.0


async def test_the_claim_window_uses_its_partial_index(pg: PostgresStore) -> None:
    await pg.create_job(job(), tasks(3000))
    await pg.create_job(job("job-2"), tasks(3000))
    assert pg._conn is not None
    await pg._conn.execute("ANALYZE tasks")
    params = {"job_id": "job-1", "limit": 10}
    cursor = await pg._conn.execute("EXPLAIN " + postgres_reads.CLAIM_WINDOW, params)
    plan = "\n".join(row[0] for row in await cursor.fetchall())
    assert "tasks_claimable" in plan, plan


async def until_listening(url: str, deadline_s: float = 10.0) -> None:
    """Poll the server until some session of this database LISTENs for queued jobs."""
    conn = await raw(url)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    try:
        while True:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND query = 'LISTEN taskfleet_queued'"
            )
            row = await cursor.fetchone()
            if row is not None and row[0] > 0:
                return
            assert loop.time() < give_up, "no session LISTENs for queued jobs"
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def test_a_job_queued_through_another_connection_ends_an_idle_wait(
    pg: PostgresStore, pg_url: str
) -> None:
    # The first wait returns once the LISTEN is in place: what was queued before is looked for.
    await asyncio.wait_for(pg.wait_for_queued_job(60), timeout=10)
    await until_listening(pg_url)
    other = PostgresStore(pg_url)
    await other.open()
    waiting = asyncio.create_task(pg.wait_for_queued_job(60))
    await other.create_job(job("late"), tasks(1))
    await asyncio.wait_for(waiting, timeout=10)  # a poll would have taken 60 s
    await other.acquire_job("late", runner("r9"), [JobStatus.QUEUED])
    # A worker hands a job back as service.worker does: released interrupted, then queued.
    await other.release_job("late", "r9", JobStatus.INTERRUPTED, 3000.0)
    waiting = asyncio.create_task(pg.wait_for_queued_job(60))
    await other.set_job_status("late", JobStatus.QUEUED, 3000.0)
    await asyncio.wait_for(waiting, timeout=10)
    await other.close()


async def test_an_idle_worker_starts_a_job_queued_on_another_host_at_once(
    pg: PostgresStore, pg_url: str
) -> None:
    worker = Worker(pg, poll_s=60)
    working = asyncio.create_task(worker.run())
    await until_listening(pg_url)
    other = PostgresStore(pg_url)
    await other.open()
    await other.create_job(job("late"), tasks(3, spec={"duration": 0}))
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 15  # far below the 60 s poll
    while (await other.get_job("late")).status is not JobStatus.COMPLETED:
        assert loop.time() < give_up, "the idle worker did not wake for the queued job"
        await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(working, timeout=10)
    await other.close()


async def test_the_listener_comes_back_after_its_connection_is_cut(
    pg: PostgresStore, pg_url: str
) -> None:
    await asyncio.wait_for(pg.wait_for_queued_job(60), timeout=10)  # connected
    await until_listening(pg_url)
    admin = await raw(pg_url)
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query = 'LISTEN taskfleet_queued'"
    )
    # Reconnected, it looks once for what was queued meanwhile, then listens again.
    await asyncio.wait_for(pg.wait_for_queued_job(60), timeout=10)
    await until_listening(pg_url)
    waiting = asyncio.create_task(pg.wait_for_queued_job(60))
    await admin.execute(
        "INSERT INTO jobs (job_id, name, status, options, created_at, total)"
        " VALUES ('late', '', 'queued', '{}', 1.0, 0)"
    )
    await asyncio.wait_for(waiting, timeout=10)
    await admin.close()
