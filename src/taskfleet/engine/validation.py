"""Central validation: one command judges the whole batch after all tasks ended.

The command gets ``TASKFLEET_JOB`` and ``TASKFLEET_RESULTS`` (a JSONL results
file). Exit 0 accepts the batch. Otherwise every stdout line that is a task id
marks that task ``failed`` ("validation failed"); those tasks run again as one
new round, at most ``validate_rounds`` rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from typing import Protocol, TextIO

from taskfleet.engine.records import result_record
from taskfleet.model import Job
from taskfleet.store.base import Store

VALIDATION_ERROR = "validation failed"


class RoundDriver(Protocol):
    """What validation needs of the runner: run the reopened tasks as one more round."""

    @property
    def stopped(self) -> bool:
        """Whether the run was asked to stop (then no further round starts)."""
        ...

    async def refresh_counts(self) -> None:
        """Reload the progress counters after the store changed tasks."""
        ...

    async def drive_round(self) -> None:
        """Run until every open task has ended."""
        ...


async def run_validation_rounds(store: Store, job: Job, runner: RoundDriver) -> str | None:
    """Validate, reopen rejected tasks and run them again; return a job-level error or None."""
    validation_round = job.validation_round
    while True:
        exit_code, named = await validate_once(store, job)
        if exit_code == 0:
            return None
        marked = await store.fail_tasks(job.job_id, named, VALIDATION_ERROR)
        await runner.refresh_counts()
        if not marked:
            return f"validation command exited with code {exit_code} and named no task"
        if validation_round >= job.options.validate_rounds:
            return None  # the rejected tasks stay failed: the job fails
        validation_round += 1
        await store.set_validation_round(job.job_id, validation_round)
        await store.reopen_tasks(job.job_id, task_ids=marked)
        await runner.refresh_counts()
        await runner.drive_round()
        if runner.stopped:
            return None


async def validate_once(store: Store, job: Job) -> tuple[int, list[str]]:
    """Run the validation command once: (exit code, task ids it printed)."""
    assert job.options.validate_cmd is not None
    fd, results_path = tempfile.mkstemp(prefix=f"taskfleet-{job.job_id}-", suffix=".jsonl")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as results_file:
            await _write_results(store, job.job_id, results_file)
        env = {**os.environ, "TASKFLEET_JOB": job.job_id, "TASKFLEET_RESULTS": results_path}
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            job.options.validate_cmd,
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
            cwd=job.options.cwd,
        )
        stdout, _ = await process.communicate()
    finally:
        os.unlink(results_path)
    lines = stdout.decode("utf-8", errors="replace").splitlines()
    named = [line.strip() for line in lines if line.strip()]
    return process.returncode or 0, named


async def _write_results(store: Store, job_id: str, results_file: TextIO) -> None:
    after_seq = 0
    while True:
        page = await store.list_tasks(job_id, after_seq=after_seq, limit=1000)
        if not page:
            return
        for task in page:
            results_file.write(json.dumps(result_record(task)) + "\n")
        after_seq = page[-1].seq
