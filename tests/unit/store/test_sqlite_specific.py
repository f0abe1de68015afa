"""What only the SQLite store has: a file, WAL, a schema version, other readers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskfleet.errors import StoreError, UsageError
from taskfleet.model import TaskSpec, TaskStatus
from taskfleet.store import open_store
from taskfleet.store.common.queries import load_queries
from taskfleet.store.sqlite import schema as sqlite_schema
from taskfleet.store.sqlite.schema import SCHEMA_VERSION
from taskfleet.store.sqlite.store import SqliteStore

from .conftest import finish, job, start, task, tasks
from .random_workload import assert_matches_memory

S = TaskStatus
QUERIES = load_queries("taskfleet.store.sqlite")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "deep" / "er" / "taskfleet.db"


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_open_creates_the_file_and_its_directories(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    await store.open()
    await store.close()
    assert db_path.is_file()


async def test_open_store_url_forms(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    assert isinstance(store, SqliteStore) and store.path == str(tmp_path / "u.db")


async def test_wal_mode_and_schema_version(db_path: Path) -> None:
    for _ in range(2):  # reopening must not migrate again
        store = SqliteStore(str(db_path))
        await store.open()
        await store.close()
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1)) == [1, 2, 3, 4, 5, 6, 7]


async def test_version_1_database_is_upgraded(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", sqlite_schema.MIGRATIONS[:1])
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", 1)
    sqlite_schema.connect(str(db_path)).close()
    monkeypatch.undo()
    store = SqliteStore(str(db_path))
    await store.open()
    await store.create_job(job(), tasks(1))
    await store.record_attempts("job-1", [start(1), finish(1)])
    assert [a.outcome for a in await store.list_attempts("job-1", "t1")] == ["succeeded"]
    await store.close()


async def test_a_fast_final_attempt_lives_in_the_task_row(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    await store.open()
    await store.create_job(job(), tasks(2))
    await store.claim_tasks("job-1", "r1", 2)
    # t1: start and end in one batch; t2: the start committed first.
    await store.record_attempts("job-1", [start(1), finish(1, S.FAILED, error="boom"), start(2)])
    await store.record_attempts("job-1", [finish(2)])
    with raw(db_path) as conn:
        rows = conn.execute("SELECT seq, number FROM attempts ORDER BY seq").fetchall()
    assert rows == [(2, 1)]
    [first] = await store.list_attempts("job-1", "t1")
    assert (first.number, first.runner_id, first.outcome) == (1, "r1", "failed")
    assert first.error == "boom"
    # Reopening moves it to attempts, so the next run's attempt joins it.
    assert await store.reopen_tasks("job-1", statuses=[S.FAILED]) == 1
    await store.claim_tasks("job-1", "r2", 1)
    await store.record_attempts(
        "job-1", [start(1, attempt=2, runner_id="r2"), finish(1, attempt=2)]
    )
    attempts = await store.list_attempts("job-1", "t1")
    assert [(a.number, a.runner_id, a.outcome) for a in attempts] == [
        (1, "r1", "failed"),
        (2, "r2", "succeeded"),
    ]
    await store.close()


async def test_reopen_keeps_everything(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    await store.open()
    await store.create_job(job(), [task("a", 1), task("b", 2, depends_on=("a",))])
    await store.claim_tasks("job-1", "r1", 10)
    await store.record_attempts("job-1", [start(1), finish(1, result={"n": 1})])
    await store.close()

    again = SqliteStore(str(db_path))
    await again.open()
    assert (await again.get_job("job-1")).total == 2
    a = await again.get_task("job-1", "a")
    assert (a.status, a.result) == (TaskStatus.SUCCEEDED, {"n": 1})
    assert (await again.get_task("job-1", "b")).status is TaskStatus.QUEUED
    assert len(await again.list_attempts("job-1", "a")) == 1
    await again.close()


async def test_other_connections_and_processes_see_commits(db_path: Path) -> None:
    writer = SqliteStore(str(db_path))
    reader = SqliteStore(str(db_path))
    await writer.open()
    await reader.open()
    await writer.create_job(job(), tasks(3))
    assert (await reader.count_tasks("job-1")).queued == 3

    code = (
        "import asyncio, sys\n"
        "from taskfleet.store.sqlite.store import SqliteStore\n"
        "async def main():\n"
        "    store = SqliteStore(sys.argv[1]); await store.open()\n"
        "    print((await store.get_job('job-1')).total); await store.close()\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(db_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "3"
    await writer.close()
    await reader.close()


async def test_error_mid_create_job_stores_nothing(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    await store.open()

    def broken() -> Iterator[TaskSpec]:
        for seq in range(1, 2501):  # past two insert batches
            yield task(f"t{seq}", seq, depends_on=(f"t{seq + 1}",) if seq % 2 else ())
        raise ValueError("reader died")

    with pytest.raises(ValueError, match="reader died"):
        await store.create_job(job(), broken())
    with raw(db_path) as conn:
        for table in ("jobs", "tasks", "task_deps", "attempts"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    # The connection's staging is clean too: the same job goes in whole.
    created = await store.create_job(job(), [task("a", 1, depends_on=("b",)), task("b", 2)])
    assert created.total == 2
    assert (await store.get_task("job-1", "a")).status is TaskStatus.PENDING
    await store.close()


async def test_driver_errors_become_store_errors(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    await store.open()
    assert store._db is not None
    store._db.execute("PRAGMA busy_timeout = 50")
    with raw(db_path) as blocker:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError) as caught:
            await store.create_job(job(), tasks(1))
        blocker.execute("ROLLBACK")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert (await store.create_job(job(), tasks(1))).total == 1
    await store.close()


async def test_closed_store_raises_store_error(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    with pytest.raises(StoreError, match="not open"):
        await store.get_job("job-1")


async def test_foreign_files_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="not a taskfleet database"):
        await SqliteStore(str(garbage)).open()

    other = tmp_path / "other.db"
    with raw(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(UsageError, match="not a taskfleet database"):
        await SqliteStore(str(other)).open()


async def test_newer_schema_is_refused(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    await store.open()
    await store.close()
    with raw(db_path) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(UsageError, match="upgrade taskfleet"):
        await SqliteStore(str(db_path)).open()


async def test_hot_queries_use_their_indexes(db_path: Path) -> None:
    store = SqliteStore(str(db_path))
    await store.open()
    assert store._db is not None
    params = {"job_id": "j", "limit": 10, "held": "[]", "dep_seq": 1, "error": "", "now": 0}
    claim_plan = " ".join(
        row[3] for row in store._db.execute("EXPLAIN QUERY PLAN " + QUERIES["claim_window"], params)
    )
    assert "USING INDEX tasks_claimable" in claim_plan
    skip_plan = [
        row[3]
        for row in store._db.execute("EXPLAIN QUERY PLAN " + QUERIES["skip_dependants"], params)
    ]
    # Every access to tasks is by key: never a scan of all of a job's tasks.
    task_steps = [step for step in skip_plan if " tasks " in f" {step} "]
    assert task_steps and all("(job_id=? AND seq=?)" in step for step in task_steps)
    await store.close()


# -- the memory store is the reference (random_workload.py) -----------------------


@pytest.mark.parametrize("seed", range(6))
async def test_sqlite_matches_memory_on_random_workloads(tmp_path: Path, seed: int) -> None:
    await assert_matches_memory(SqliteStore(str(tmp_path / "diff.db")), seed)
