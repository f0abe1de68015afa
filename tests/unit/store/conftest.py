"""The ``store`` fixture (a fresh store of every kind per test) and builders for test data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from taskfleet.model import (
    AttemptFinished,
    AttemptStarted,
    Job,
    JobOptions,
    JobStatus,
    RunnerInfo,
    TaskSpec,
    TaskStatus,
)
from taskfleet.store.base import Store
from taskfleet.store.memory.store import MemoryStore
from taskfleet.store.sqlite.store import SqliteStore


def _postgres(_tmp: Path, request: pytest.FixtureRequest) -> Store:
    from taskfleet.store.postgres.store import PostgresStore

    # A fresh database per test, on the session's server (skips if PostgreSQL is missing).
    url: str = request.getfixturevalue("pg_url")
    return PostgresStore(url)


# Every store implementation runs the whole contract suite; add new ones here.
STORE_FACTORIES: dict[str, Callable[[Path, pytest.FixtureRequest], Store]] = {
    "memory": lambda _tmp, _request: MemoryStore(),
    "sqlite": lambda tmp, _request: SqliteStore(str(tmp / "store.db")),
    "postgres": _postgres,
}


@pytest_asyncio.fixture(params=sorted(STORE_FACTORIES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, open store."""
    instance = STORE_FACTORIES[request.param](tmp_path, request)
    await instance.open()
    yield instance
    await instance.close()


def task(task_id: str, seq: int, **fields: Any) -> TaskSpec:
    """A parsed task of the ``simulate`` kind."""
    fields.setdefault("spec", {"name": task_id})
    return TaskSpec(id=task_id, seq=seq, kind="simulate", **fields)


def tasks(count: int, **fields: Any) -> list[TaskSpec]:
    """``count`` independent tasks t1..tN."""
    return [task(f"t{seq}", seq, **fields) for seq in range(1, count + 1)]


def job(job_id: str = "job-1", *, created_at: float = 1000.0, **fields: Any) -> Job:
    """A new queued job (``total`` is set by the store)."""
    fields.setdefault("status", JobStatus.QUEUED)
    return Job(
        job_id=job_id,
        name=fields.pop("name", job_id),
        options=fields.pop("options", JobOptions(concurrency=4, retries=1)),
        created_at=created_at,
        total=0,
        **fields,
    )


def runner(runner_id: str = "r1", *, now: float = 2000.0) -> RunnerInfo:
    """A runner on this host."""
    return RunnerInfo(
        runner_id=runner_id,
        host="host-a",
        pid=4242,
        started_at=now - 5,
        heartbeat_at=now,
        lease_s=30,
    )


def start(
    seq: int, *, attempt: int = 1, runner_id: str = "r1", at: float = 2010.0
) -> AttemptStarted:
    """The start of an attempt."""
    return AttemptStarted(seq=seq, attempt=attempt, runner_id=runner_id, started_at=at)


def finish(
    seq: int,
    status: TaskStatus = TaskStatus.SUCCEEDED,
    *,
    attempt: int = 1,
    at: float = 2012.5,
    **fields: Any,
) -> AttemptFinished:
    """The end of an attempt; the attempt outcome follows the task status unless given."""
    # As the runner's: a retry follows a failed attempt, a return to queued an interrupted one.
    default = {TaskStatus.PENDING: "failed", TaskStatus.QUEUED: "interrupted"}.get(status)
    outcome = fields.pop("attempt_outcome", default or status.value)
    return AttemptFinished(
        seq=seq,
        attempt=attempt,
        status=status,
        attempt_outcome=outcome,
        finished_at=at,
        duration_s=fields.pop("duration_s", 2.5),
        failures=fields.pop("failures", 1 if status is TaskStatus.FAILED else 0),
        **fields,
    )
