"""The server's settings reach what it stores: job options through the one builder, the lease."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from taskfleet.config.settings import Settings
from taskfleet.model import Job
from taskfleet.server import create_app
from taskfleet.store import open_store

from .helpers import wait_for


def stored_job(url: str, job_id: str) -> Job:
    async def read() -> Job:
        store = open_store(url)
        await store.open()
        try:
            return await store.get_job(job_id)
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_served_job_has_the_settings_options_and_lease(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    settings = Settings(db=url, concurrency=3, retries=0, retry_delay=0.25, lease=6.0)
    app = create_app(settings, root=str(tmp_path), worker_poll_s=0.05)
    with TestClient(app) as client:
        body = {"id": "j", "tasks": [{"id": "a", "duration": 0}], "timeout": 4}
        assert client.post("/jobs", json=body).status_code == 201
        wait_for(lambda: client.get("/jobs/j").json()["status"] == "completed", 20, "the job")
    job = stored_job(url, "j")
    assert job.runner is not None and job.runner.lease_s == 6.0
    options = job.options
    assert (options.concurrency, options.retries, options.retry_delay_s) == (3, 0, 0.25)
    assert (options.timeout_s, options.cwd) == (4.0, str(tmp_path))
