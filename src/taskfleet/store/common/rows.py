"""How jobs and tasks become table rows and back: shared by the SQLite and PostgreSQL stores.

Both schemas have the same columns in the same order, so one encoding serves
both; JSON goes into TEXT columns (PostgreSQL's JSONB would reorder keys).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from taskfleet.model import (
    WORKER_RUNNER_PREFIX,
    Attempt,
    AttemptOutcome,
    Job,
    JobOptions,
    JobStatus,
    RunnerInfo,
    Task,
    TaskSpec,
    TaskStatus,
    task_status_at_creation,
)

JOB_COLUMNS = (
    "job_id, name, status, options, created_at, total, started_at, finished_at, "
    "runner_id, runner_host, runner_pid, runner_started_at, heartbeat_at, lease_s, "
    "validation_round, error, usage, metadata, run_started_at, run_seconds"
)
TASK_COLUMNS = (
    "job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s, "
    "depends_on, scope, resources, profile, description, tags, attempts, failures, "
    "result, error, started_at, finished_at, duration_s, not_before, lease_owner"
)
# What Store.claim_queued_job takes: queued, or interrupted by the death of its worker.
WAITS_FOR_A_WORKER = (
    f"(status = 'queued' OR (status = 'interrupted' AND runner_id LIKE '{WORKER_RUNNER_PREFIX}%'))"
)
TASK_INSERT_COLUMNS = (
    "job_id, seq, task_id, kind, status, spec, priority, retries, timeout_s, "
    "depends_on, scope, resources, profile, description, tags, unmet_deps"
)


# A task's ``meta`` travels inside its spec column under this key, so that no
# schema change was needed; no kind's spec holds a key like it, and the codec
# takes it out again before the spec reaches anyone.
META_KEY = "__taskfleet_meta__"

# default=str: one odd result must not make a whole group commit fail.
# One encoder for all: json.dumps with arguments builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


def encode_json(value: Any) -> str:
    """JSON text for a column; what JSON cannot encode is stored as its ``str``.

    The C encoder is called directly: JSONEncoder.encode's Python layers cost
    as much as the encoding of a small object, and this runs twice per task.
    The same text as ``_ENCODER.encode``, circular check included.
    """
    if c_make_encoder is None:  # pragma: no cover - CPython always has _json
        return _ENCODER.encode(value)
    encode = c_make_encoder({}, str, encode_basestring_ascii, None, ":", ",", False, False, True)
    return "".join(encode(value, 0))


def _encode_strings(values: tuple[str, ...]) -> str:
    return encode_json(values) if values else "[]"


def _decode_strings(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text != "[]" else ()


def task_insert_row(job_id: str, spec: TaskSpec, depends_on: Sequence[str]) -> tuple[Any, ...]:
    """Parameters for TASK_INSERT_COLUMNS; ``depends_on`` is the de-duplicated list."""
    status = task_status_at_creation(depends_on)
    return (
        job_id,
        spec.seq,
        spec.id,
        spec.kind,
        status.value,
        encode_json(spec.spec if spec.meta is None else {**spec.spec, META_KEY: spec.meta}),
        spec.priority,
        spec.retries,
        spec.timeout_s,
        _encode_strings(spec.depends_on),
        _encode_strings(spec.scope),
        _encode_strings(spec.resources),
        spec.profile,
        spec.description,
        _encode_strings(spec.tags),
        len(depends_on),
    )


_TASK_STATUS = {status.value: status for status in TaskStatus}


def task_from_row(row: Sequence[Any], spec_cache: dict[str, Any] | None = None) -> Task:
    """A Task from a row of TASK_COLUMNS.

    ``spec_cache`` shares one decoded spec among rows with the same spec text
    (a claim of thousands of alike tasks); specs are read-only to the engine.
    """
    # One piece: a positional constructor call, one line per column.
    spec_text = row[5]
    if spec_cache is None:
        spec = json.loads(spec_text)
    else:
        spec = spec_cache.get(spec_text)
        if spec is None:
            spec = spec_cache[spec_text] = json.loads(spec_text)
    meta = spec.get(META_KEY)
    if meta is not None:  # a copy without it: a cached spec is shared
        spec = {key: value for key, value in spec.items() if key != META_KEY}
    result = row[17]
    # Positional: this runs for every claimed task.
    return Task(
        row[0],
        row[1],
        row[2],
        row[3],
        _TASK_STATUS[row[4]],
        spec,
        row[6],
        row[7],
        row[8],
        _decode_strings(row[9]),
        _decode_strings(row[10]),
        _decode_strings(row[11]),
        row[12],
        row[13],
        _decode_strings(row[14]),
        row[15],
        row[16],
        None if result is None else json.loads(result),
        row[18],
        row[19],
        row[20],
        row[21],
        row[22],
        row[23],
        meta,
    )


def job_row(job: Job) -> tuple[Any, ...]:
    """Parameters for JOB_COLUMNS."""
    runner = job.runner
    return (
        job.job_id,
        job.name,
        job.status.value,
        encode_json(job.options.to_dict()),
        job.created_at,
        job.total,
        job.started_at,
        job.finished_at,
        runner.runner_id if runner else None,
        runner.host if runner else None,
        runner.pid if runner else None,
        runner.started_at if runner else None,
        runner.heartbeat_at if runner else None,
        runner.lease_s if runner else None,
        job.validation_round,
        job.error,
        encode_json(dict(job.usage)),
        encode_json(dict(job.metadata)),
        job.run_started_at,
        job.run_seconds,
    )


def job_from_row(row: Sequence[Any]) -> Job:
    """A Job from a row of JOB_COLUMNS."""
    runner = None
    if row[8] is not None:
        runner = RunnerInfo(
            runner_id=row[8],
            host=row[9],
            pid=row[10],
            started_at=row[11],
            heartbeat_at=row[12],
            lease_s=row[13],
        )
    return Job(
        job_id=row[0],
        name=row[1],
        status=JobStatus(row[2]),
        options=JobOptions.from_dict(json.loads(row[3])),
        created_at=row[4],
        total=row[5],
        started_at=row[6],
        finished_at=row[7],
        runner=runner,
        validation_round=row[14],
        error=row[15],
        usage=json.loads(row[16]),
        metadata=json.loads(row[17]),
        run_started_at=row[18],
        run_seconds=row[19],
    )


def acquire_params(job_id: str, runner: RunnerInfo) -> dict[str, Any]:
    """The named parameters that make ``runner`` a job's runner (both SQL stores' acquire)."""
    return {
        "job_id": job_id,
        "runner_id": runner.runner_id,
        "host": runner.host,
        "pid": runner.pid,
        "started_at": runner.started_at,
        "heartbeat_at": runner.heartbeat_at,
        "lease_s": runner.lease_s,
    }


def attempt_from_row(task_id: str, row: Sequence[Any]) -> Attempt:
    """An Attempt of the task with id ``task_id`` from a row of its columns, in field order.

    The columns: number, runner id, started at, finished at, outcome (an
    ``AttemptOutcome`` value, or NULL while the attempt runs), error.
    """
    number, runner_id, started_at, finished_at, outcome, error = row
    outcome = None if outcome is None else AttemptOutcome(outcome)
    return Attempt(task_id, number, runner_id, started_at, finished_at, outcome, error)
