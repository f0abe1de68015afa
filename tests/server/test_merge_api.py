"""``POST /jobs`` takes the merge options as ``run`` does: merge, merge_into, merge_check, push."""

from __future__ import annotations

import asyncio
from pathlib import Path

from taskfleet.model import JobOptions
from taskfleet.store.sqlite.store import SqliteStore

from .conftest import LiveServer


def stored_options(db_path: Path, job_id: str) -> JobOptions:
    async def read() -> JobOptions:
        store = SqliteStore(str(db_path))
        await store.open()
        try:
            return (await store.get_job(job_id)).options
        finally:
            await store.close()

    return asyncio.run(read())


def test_merge_options_are_stored_with_the_job(server: LiveServer, tmp_path: Path) -> None:
    server.submit(
        [{"id": "t", "command": "true"}],
        id="m1",
        merge=True,
        merge_into="release",
        merge_check="make test",
        push=True,
    )
    # Merging a job without agent tasks merges nothing; the job ends as it would.
    assert server.wait_ended("m1")["status"] == "completed"
    options = stored_options(tmp_path / "store.db", "m1")
    assert (options.merge, options.merge_into, options.merge_check, options.push) == (
        True,
        "release",
        "make test",
        True,
    )


def test_merge_options_are_checked(server: LiveServer) -> None:
    response = server.client.post("/jobs", json={"tasks": [{"command": "true"}], "merge_into": ""})
    assert response.status_code == 422
