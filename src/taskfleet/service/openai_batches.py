"""The OpenAI Batch API's files and batches, served by taskfleet's jobs.

A batch is a job of ``llm`` tasks, one per line of its input file, whose
``metadata["openai_batch"]`` remembers what the batch was created with. Its
output and error files are made from the job's results (``openai-batch``
format) the first time the batch is read after its job ended, and stored
like uploads. The HTTP routes (``server/routes_openai.py``) only parse and
render around these functions.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from taskfleet.errors import (
    FileNotFound,
    JobNotFound,
    StoreError,
    TaskfileError,
    TaskfileIssue,
    UsageError,
)
from taskfleet.kinds import Kind, get_kind
from taskfleet.model import Job, JobOptions, JobStatus, StoredFile, TaskSpec, TaskStatus
from taskfleet.service.control import cancel_job
from taskfleet.service.reports import JobReport, job_report
from taskfleet.service.results import openai_batch_record
from taskfleet.service.submit import TaskRules, submit
from taskfleet.service.tasks import iter_tasks
from taskfleet.store.base import Store

BATCH_KEY = "openai_batch"  # the job metadata key of a batch
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/completions")
COMPLETION_WINDOWS = ("24h",)
INPUT_PURPOSE = "batch"
OUTPUT_PURPOSE = "batch_output"
FILE_PURPOSES = (INPUT_PURPOSE, OUTPUT_PURPOSE, "fine-tune", "assistants", "vision", "user_data")
WINDOW_S = 24 * 3600
_ENDED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


# -- files --------------------------------------------------------------------------


async def upload_file(store: Store, content: bytes, filename: str, purpose: str) -> StoredFile:
    """Store an uploaded file; a batch input file is checked to be UTF-8 JSON Lines text."""
    if purpose not in FILE_PURPOSES:
        raise UsageError(f"purpose must be one of {', '.join(FILE_PURPOSES)}, got '{purpose}'")
    if purpose == INPUT_PURPOSE:
        _decode(content, filename)
    stored = StoredFile(
        f"file-{uuid.uuid4().hex[:24]}", purpose, filename, len(content), time.time()
    )
    await store.create_file(stored, content)
    return stored


def file_object(stored: StoredFile) -> dict[str, Any]:
    """A file as the OpenAI API describes it."""
    return {
        "id": stored.file_id,
        "object": "file",
        "bytes": stored.bytes,
        "created_at": int(stored.created_at),
        "filename": stored.filename,
        "purpose": stored.purpose,
        "status": "processed",
        "status_details": None,
    }


def _decode(content: bytes, filename: str) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{filename}: not UTF-8 text (byte {exc.start + 1})") from exc


# -- creating a batch ------------------------------------------------------------------


def batch_concurrency(endpoints: Mapping[str, Mapping[str, Any]], default: int) -> int:
    """How many requests of a batch may be in flight: the default endpoint's ``max_concurrency``.

    The Batch API has no concurrency field, and a batch's requests wait on the
    network, not the CPU: the job's cap (the CPU count by default) would
    starve them. The endpoint's gate (rate limits, AIMD) is the real limit.
    """
    from taskfleet.config.endpoints import DEFAULT_ENDPOINT
    from taskfleet.kinds.llm.endpoints import DEFAULT_MAX_CONCURRENCY

    table = endpoints.get(DEFAULT_ENDPOINT, {})
    return max(default, int(table.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)))


async def create_batch(
    store: Store,
    *,
    input_file_id: str,
    endpoint: str,
    completion_window: str,
    metadata: Mapping[str, str] | None,
    options: JobOptions,
) -> Job:
    """Check the input file whole (nothing is stored if a line is bad) and queue its job."""
    if endpoint not in ENDPOINTS:
        raise UsageError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got '{endpoint}'")
    if completion_window not in COMPLETION_WINDOWS:
        raise UsageError(f"completion_window must be '24h', got '{completion_window}'")
    stored = await store.get_file(input_file_id)
    if stored.purpose != INPUT_PURPOSE:
        raise UsageError(f"file '{input_file_id}' has purpose '{stored.purpose}', not 'batch'")
    text = _decode(await store.read_file(input_file_id), stored.filename)
    batch = {
        "input_file_id": input_file_id,
        "endpoint": endpoint,
        "completion_window": completion_window,
        "metadata": dict(metadata) if metadata else None,
    }
    # Request lines, not taskfleet tasks: no profiles, and resources go unchecked.
    rules = TaskRules(
        kinds=_llm_only,
        known_resources_only=False,
        last_check=partial(_for_endpoint, endpoint=endpoint, source=stored.filename),
    )
    return await submit(
        store,
        io.StringIO(text),
        options,
        rules,
        source_name=stored.filename,
        job_id=f"batch_{uuid.uuid4().hex[:24]}",
        name=f"openai batch of {stored.filename}",
        metadata={BATCH_KEY: batch},
    )


def _llm_only(name: str) -> Kind:
    # A batch file holds requests only: no line may smuggle in a shell command.
    if name != "llm":
        raise UsageError(f"a batch line is an llm request, not kind '{name}'")
    return get_kind(name)


def _for_endpoint(tasks: Iterator[TaskSpec], endpoint: str, source: str) -> Iterator[TaskSpec]:
    """The tasks, checked to call the batch's endpoint as OpenAI requires."""
    from taskfleet.kinds.llm.request import PATHS

    wanted = PATHS[endpoint]
    for task in tasks:
        if task.spec.get("path") != wanted:
            message = f"the batch's endpoint is {endpoint}; every line's url must be it"
            raise TaskfileError([TaskfileIssue(source, task.seq, "url", message)])
        yield task


# -- reading batches --------------------------------------------------------------------


async def batch_object(store: Store, batch_id: str) -> dict[str, Any]:
    """A batch as the OpenAI API describes it; its result files are made once it ended."""
    report = await job_report(store, batch_id)
    batch = report.job.metadata.get(BATCH_KEY)
    if not isinstance(batch, dict):
        raise JobNotFound(batch_id)
    output_id = error_id = None
    if report.job.status in _ENDED and report.counts.running == 0:
        output_id, error_id = await _result_files(store, report.job)
    return _render(report, batch, output_id, error_id)


async def list_batches(store: Store, *, limit: int, after: str | None) -> dict[str, Any]:
    """Batches newest first, after the batch ``after`` (the OpenAI list shape)."""
    found: list[dict[str, Any]] = []
    passed_after = after is None
    offset, page = 0, 200
    while len(found) <= limit:
        jobs = await store.list_jobs(limit=page, offset=offset)
        for job in jobs:
            if BATCH_KEY not in job.metadata:
                continue
            if not passed_after:
                passed_after = job.job_id == after
                continue
            found.append(await batch_object(store, job.job_id))
            if len(found) > limit:
                break
        if len(jobs) < page:
            break
        offset += page
    data = found[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(found) > limit,
    }


async def cancel_batch(store: Store, batch_id: str) -> dict[str, Any]:
    """Cancel a batch: requests not sent are not sent; the answered ones stay in its output."""
    await batch_object(store, batch_id)  # 404 unless it is a batch
    await cancel_job(store, batch_id)
    return await batch_object(store, batch_id)


def _render(
    report: JobReport,
    batch: Mapping[str, Any],
    output_id: str | None,
    error_id: str | None,
) -> dict[str, Any]:
    job, counts = report.job, report.counts
    status = _status(job, counts.running)
    created = int(job.created_at)
    ended_at = None if job.finished_at is None else int(job.finished_at)
    errors = None
    if job.error:
        errors = {"object": "list", "data": [{"code": "batch_failed", "message": job.error}]}
    return {
        "id": job.job_id,
        "object": "batch",
        "endpoint": batch["endpoint"],
        "errors": errors,
        "input_file_id": batch["input_file_id"],
        "completion_window": batch["completion_window"],
        "status": status,
        "output_file_id": output_id,
        "error_file_id": error_id,
        "created_at": created,
        "in_progress_at": None if job.started_at is None else int(job.started_at),
        "expires_at": created + WINDOW_S,
        "finalizing_at": ended_at if status == "completed" else None,
        "completed_at": ended_at if status == "completed" else None,
        "failed_at": ended_at if status == "failed" else None,
        "expired_at": None,
        "cancelling_at": ended_at if job.status is JobStatus.CANCELLED else None,
        "cancelled_at": ended_at if status == "cancelled" else None,
        "request_counts": {
            "total": counts.total,
            "completed": counts.succeeded,
            "failed": counts.failed + counts.skipped + counts.cancelled,
        },
        "metadata": batch.get("metadata"),
        "usage": _usage(job.usage),
    }


def _status(job: Job, running: int) -> str:
    """OpenAI's batch status for a job's status."""
    if job.status is JobStatus.CANCELLED:
        return "cancelling" if running else "cancelled"
    if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
        # Failed requests make a completed batch (they go to the error file);
        # only a job-level error fails the batch.
        return "failed" if job.error else "completed"
    return "in_progress"  # queued, running, or interrupted and resumable


def _usage(usage: Mapping[str, float]) -> dict[str, int]:
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": int(usage.get("total_tokens", prompt + completion)),
    }


# -- result files --------------------------------------------------------------------------


def result_file_ids(batch_id: str) -> tuple[str, str]:
    """The ids of a batch's output and error files (fixed, so they are made once)."""
    job_hex = batch_id.removeprefix("batch_")
    return f"file-{job_hex}-output", f"file-{job_hex}-errors"


async def _result_files(store: Store, job: Job) -> tuple[str | None, str | None]:
    """Make (once) and name the output and error files; None for an empty one."""
    output_id, error_id = result_file_ids(job.job_id)
    try:
        output, errors = await store.get_file(output_id), await store.get_file(error_id)
    except FileNotFound:
        output, errors = await _make_result_files(store, job, output_id, error_id)
    return (output_id if output.bytes else None, error_id if errors.bytes else None)


async def _make_result_files(
    store: Store, job: Job, output_id: str, error_id: str
) -> tuple[StoredFile, StoredFile]:
    answered, failed = io.StringIO(), io.StringIO()
    async for task in iter_tasks(store, job.job_id):
        record = openai_batch_record(task)
        response = record["response"]
        ok = response is not None and 200 <= int(response["status_code"]) < 300
        if task.status is TaskStatus.SUCCEEDED or ok:
            answered.write(json.dumps(record) + "\n")
        else:
            failed.write(json.dumps(record) + "\n")
    made = []
    now = time.time()
    for file_id, name, text in (
        (output_id, f"{job.job_id}_output.jsonl", answered.getvalue()),
        (error_id, f"{job.job_id}_errors.jsonl", failed.getvalue()),
    ):
        content = text.encode()
        stored = StoredFile(file_id, OUTPUT_PURPOSE, name, len(content), now)
        try:
            await store.create_file(stored, content)
        except StoreError:  # a concurrent reader made it first: keep that one
            stored = await store.get_file(file_id)
        made.append(stored)
    return made[0], made[1]
