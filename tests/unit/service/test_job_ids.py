"""Resolving a typed JOB: an exact id, ``last``, a unique prefix; ambiguity and absence."""

from __future__ import annotations

import pytest

from taskfleet.errors import JobNotFound, NotFound, UsageError
from taskfleet.model import Job, JobOptions, JobStatus
from taskfleet.service.job_ids import resolve_job_id
from taskfleet.store.memory.store import MemoryStore


async def _jobs(store: MemoryStore, *ids: str) -> None:
    for created_at, job_id in enumerate(ids):
        job = Job(job_id, "", JobStatus.QUEUED, JobOptions(), float(created_at), 0)
        await store.create_job(job, [])


async def test_exact_id_then_last_then_a_unique_prefix(store: MemoryStore) -> None:
    await _jobs(store, "last-build", "build", "build-2", "deploy")

    assert await resolve_job_id(store, "build") == "build"  # exact, though a prefix too
    assert await resolve_job_id(store, "build-") == "build-2"
    assert await resolve_job_id(store, "last") == "deploy"  # the newest, not "last-build"
    assert await resolve_job_id(store, "last-") == "last-build"


async def test_a_job_named_last_is_itself(store: MemoryStore) -> None:
    await _jobs(store, "last", "newer")
    assert await resolve_job_id(store, "last") == "last"


async def test_ambiguous_prefix_names_five_candidates_and_says_there_are_more(
    store: MemoryStore,
) -> None:
    await _jobs(store, *(f"run-{n}" for n in range(6)))
    with pytest.raises(UsageError) as raised:
        await resolve_job_id(store, "run-")
    message = str(raised.value)
    assert "run-0, run-1, run-2, run-3, run-4, ..." in message
    assert "run-5" not in message

    await _jobs(store, "pair-a", "pair-b")
    with pytest.raises(UsageError, match=r"pair-a, pair-b; type more"):
        await resolve_job_id(store, "pair")


async def test_nothing_matches(store: MemoryStore) -> None:
    with pytest.raises(NotFound, match="no job yet"):
        await resolve_job_id(store, "last")
    await _jobs(store, "a")
    with pytest.raises(JobNotFound):
        await resolve_job_id(store, "b")
    with pytest.raises(JobNotFound):
        await resolve_job_id(store, "")  # an empty JOB is no prefix of everything
