"""``lease`` from taskfleet.toml reaches the runner of every CLI command that runs a job.

The store keeps each job's runner lease (``runner.lease_s``); it is what
another host uses to tell a dead runner from a slow one.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from e2e.helpers import Cli, describe
from taskfleet.model import Job
from taskfleet.store import open_store

LEASE_S = 7.5


def stored_job(db: Path, job_id: str) -> Job:
    """The job as the store has it now."""

    async def read() -> Job:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        try:
            return await store.get_job(job_id)
        finally:
            await store.close()

    return asyncio.run(read())


def lease_of(db: Path, job_id: str) -> float:
    runner = stored_job(db, job_id).runner
    assert runner is not None, f"job {job_id} was never run"
    return runner.lease_s


def test_the_configured_lease_reaches_run_retry_resume_and_worker(tmp_path: Path) -> None:
    (tmp_path / "taskfleet.toml").write_text(f'db = "tf.db"\nlease = {LEASE_S}\nretries = 0\n')
    tasks = [{"id": "ok", "duration": 0}, {"id": "flaky", "duration": 0, "fail_times": 1}]
    (tmp_path / "tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tasks))
    cli = Cli(tmp_path)
    db = tmp_path / "tf.db"
    shown = json.loads(cli.ok("config", "--json").stdout)
    assert shown["lease"] == {"value": str(LEASE_S), "source": "taskfleet.toml"}

    run = cli("run", "tasks.jsonl", "--id", "r", "-q")
    assert run.returncode != 0, describe(run)  # `flaky` failed with no retries left
    assert lease_of(db, "r") == LEASE_S
    cli.ok("retry", "r", "-q")
    assert lease_of(db, "r") == LEASE_S

    cli.ok("submit", "tasks.jsonl", "--id", "w")
    cli.ok("worker", "--once")
    assert lease_of(db, "w") == LEASE_S

    cli.ok("submit", "tasks.jsonl", "--id", "q")
    resume = cli("resume", "q", "-q")  # a queued job may be resumed by hand too
    assert resume.returncode == run.returncode, describe(resume)  # `flaky` failed again
    assert lease_of(db, "q") == LEASE_S


def test_without_a_setting_the_default_lease_is_stored(tmp_path: Path) -> None:
    (tmp_path / "tasks.jsonl").write_text('{"id": "a", "duration": 0}\n')
    cli = Cli(tmp_path)
    cli.ok("--db", "tf.db", "run", "tasks.jsonl", "--id", "d", "-q")
    assert lease_of(tmp_path / "tf.db", "d") == 30.0
