"""SQLite only: a version 1 store gains the change log when opened by this version.

(Jobs are created after the upgrade: the version 1 jobs table lacks later columns.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from taskfleet.model import JobStatus, TaskStatus
from taskfleet.store.sqlite import schema as sqlite_schema
from taskfleet.store.sqlite.store import SqliteStore

from .conftest import finish, job, runner, start, tasks


async def test_a_v1_store_is_migrated_and_logs_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "old.db")
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_schema, "MIGRATIONS", sqlite_schema.MIGRATIONS[:1])
        patch.setattr(sqlite_schema, "SCHEMA_VERSION", 1)
        old = SqliteStore(path)
        await old.open()
        await old.close()
    store = SqliteStore(path)
    await store.open()
    try:
        await store.create_job(job(), tasks(2))
        assert await store.list_task_changes("job-1") == []
        await store.acquire_job("job-1", runner(), [JobStatus.QUEUED])
        await store.claim_tasks("job-1", "r1", 2)
        await store.record_attempts("job-1", [start(1), finish(1)])
        changes = await store.list_task_changes("job-1")
        # The fast attempt's running state is logged too (schema v7), before its end.
        assert [(c.task_id, c.status) for c in changes] == [
            ("t1", TaskStatus.RUNNING),
            ("t1", TaskStatus.SUCCEEDED),
        ]
    finally:
        await store.close()
