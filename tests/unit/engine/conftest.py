"""Helpers for engine tests: an in-memory store and jobs built from plain specs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from taskfleet.model import Job, JobOptions, JobStatus, TaskSpec
from taskfleet.store.base import Store
from taskfleet.store.memory.store import MemoryStore
from taskfleet.store.sqlite.store import SqliteStore


@pytest_asyncio.fixture(params=["memory", "sqlite", "postgres"])
async def each_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store of each kind (PostgreSQL on the session's server), for what the
    engine needs every store to do alike."""
    instance: Store
    if request.param == "memory":
        instance = MemoryStore()
    elif request.param == "sqlite":
        instance = SqliteStore(str(tmp_path / "store.db"))
    else:
        from taskfleet.store.postgres.store import PostgresStore

        instance = PostgresStore(request.getfixturevalue("pg_url"))
    await instance.open()
    yield instance
    await instance.close()


@pytest_asyncio.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore()
    await memory.open()
    yield memory
    await memory.close()


def spec(task_id: str, seq: int, kind: str = "simulate", **fields: Any) -> TaskSpec:
    common = {k: fields.pop(k) for k in list(fields) if k in _COMMON}
    return TaskSpec(id=task_id, seq=seq, kind=kind, spec=fields, **common)


_COMMON = {"priority", "retries", "timeout_s", "depends_on", "scope", "resources", "profile"}


async def make_job(
    store: MemoryStore, specs: list[TaskSpec], job_id: str = "j1", **options: Any
) -> Job:
    options.setdefault("retry_delay_s", 0.0)
    job = Job(job_id, "", JobStatus.QUEUED, JobOptions(**options), time.time(), 0)
    return await store.create_job(job, specs)
