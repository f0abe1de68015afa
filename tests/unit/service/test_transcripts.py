"""An agent task's transcript is read only from its repository's transcripts folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskfleet.errors import TaskNotFound
from taskfleet.model import (
    AttemptFinished,
    AttemptOutcome,
    AttemptStarted,
    Job,
    JobOptions,
    JobStatus,
    TaskSpec,
    TaskStatus,
)
from taskfleet.service.transcripts import task_transcript
from taskfleet.store.memory.store import MemoryStore


async def _store_with_result(result: dict[str, object]) -> MemoryStore:
    store = MemoryStore()
    await store.open()
    job = Job("job-1", "", JobStatus.QUEUED, JobOptions(), created_at=1.0, total=0)
    await store.create_job(job, [TaskSpec(id="t1", seq=1, kind="agent", spec={})])
    await store.claim_tasks("job-1", "r1", 1)
    start = AttemptStarted(seq=1, attempt=1, runner_id="r1", started_at=1.0)
    finish = AttemptFinished(
        1, 1, TaskStatus.SUCCEEDED, AttemptOutcome.SUCCEEDED, 2.0, 1.0, 0, result=result
    )
    await store.record_attempts("job-1", [start, finish])
    return store


async def test_the_newest_entries_of_the_transcript_in_its_folder(tmp_path: Path) -> None:
    path = tmp_path / ".taskfleet" / "transcripts" / "job-1" / "t1.jsonl"
    path.parent.mkdir(parents=True)
    lines = [json.dumps({"type": "check", "n": n}) for n in range(5)]
    path.write_text("\n".join([*lines, '{"cut by a cra']) + "\n")
    store = await _store_with_result({"repo": str(tmp_path), "transcript": str(path)})

    got = await task_transcript(store, "job-1", "t1", limit=3)

    assert got["path"] == str(path.resolve())
    assert got["total"] == 5
    assert [entry["n"] for entry in got["entries"]] == [2, 3, 4]


@pytest.mark.parametrize("named", ["/etc/passwd", "{repo}/.taskfleet/transcripts/../../x.jsonl"])
async def test_a_result_naming_a_file_elsewhere_is_not_read(tmp_path: Path, named: str) -> None:
    outside = tmp_path / "x.jsonl"
    outside.write_text('{"type": "secret"}\n')
    result = {"repo": str(tmp_path), "transcript": named.format(repo=tmp_path)}
    store = await _store_with_result(result)

    with pytest.raises(TaskNotFound):
        await task_transcript(store, "job-1", "t1")
