"""Plain data: tasks, jobs, attempts, outcomes and their state machines.

No I/O and no clock here. Times are POSIX seconds (floats) inside taskfleet
and are rendered as ISO 8601 UTC only at the interfaces.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from taskfleet.errors import InvalidTransition


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_JOB_STATES


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in FINAL_TASK_STATES


FINAL_TASK_STATES = frozenset(
    {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED}
)
# What `retry JOB` runs again.
SELECTIVE_RETRY_TASK_STATES = frozenset(
    {TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED}
)
_FINAL_JOB_STATES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

_T = TaskStatus
TASK_TRANSITIONS: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    # pending: waiting for dependencies or a retry time
    _T.PENDING: frozenset({_T.QUEUED, _T.RUNNING, _T.SKIPPED, _T.CANCELLED, _T.FAILED}),
    _T.QUEUED: frozenset({_T.PENDING, _T.RUNNING, _T.SKIPPED, _T.CANCELLED}),
    # running -> queued is a crash or an interrupt: the attempt does not count
    _T.RUNNING: frozenset({_T.SUCCEEDED, _T.FAILED, _T.CANCELLED, _T.PENDING, _T.QUEUED}),
    # final states reopen only through retry or a central validation
    _T.SUCCEEDED: frozenset({_T.FAILED, _T.QUEUED, _T.PENDING}),
    _T.FAILED: frozenset({_T.QUEUED, _T.PENDING}),
    _T.CANCELLED: frozenset({_T.QUEUED, _T.PENDING}),
    _T.SKIPPED: frozenset({_T.QUEUED, _T.PENDING}),
}

_J = JobStatus
JOB_TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    _J.QUEUED: frozenset({_J.RUNNING, _J.CANCELLED}),
    _J.RUNNING: frozenset({_J.COMPLETED, _J.FAILED, _J.CANCELLED, _J.INTERRUPTED, _J.RUNNING}),
    _J.INTERRUPTED: frozenset({_J.RUNNING, _J.CANCELLED, _J.QUEUED}),
    _J.COMPLETED: frozenset({_J.RUNNING, _J.QUEUED}),
    _J.FAILED: frozenset({_J.RUNNING, _J.QUEUED}),
    _J.CANCELLED: frozenset({_J.RUNNING, _J.QUEUED}),
}


def check_task_transition(current: TaskStatus, new: TaskStatus) -> None:
    """Raise InvalidTransition unless ``TASK_TRANSITIONS`` lets a task go ``current`` -> ``new``.

    The one gate every store passes its task changes through: for a bulk SQL
    change, once per (from, to) pair its WHERE clause admits.
    """
    if new not in TASK_TRANSITIONS[current]:
        raise InvalidTransition(f"task state {current.value} -> {new.value} is not allowed")


def check_job_transition(current: JobStatus, new: JobStatus) -> None:
    """Raise InvalidTransition unless ``JOB_TRANSITIONS`` lets a job go ``current`` -> ``new``."""
    if new not in JOB_TRANSITIONS[current]:
        raise InvalidTransition(f"job state {current.value} -> {new.value} is not allowed")


class AttemptOutcome(enum.StrEnum):
    """How one attempt ended (``attempts.outcome``); None while it runs."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # cut by a crash or a stop: does not spend a retry


class RunMode(enum.StrEnum):
    """Why a runner takes a job up: its first run, a resume, or a selective retry."""

    RUN = "run"
    RESUME = "resume"
    RETRY = "retry"


PRIORITY_NAMES: Mapping[str, int] = {"critical": 3, "high": 2, "medium": 1, "low": 0}
DEFAULT_PRIORITY = PRIORITY_NAMES["medium"]


class FailFast(enum.StrEnum):
    OFF = "off"
    GRACEFUL = "graceful"  # --fail-fast: start nothing new, let running tasks end
    NOW = "now"  # --fail-fast=now: also cancel the running ones


class ErrorClass(enum.StrEnum):
    RETRYABLE = "retryable"  # retry with backoff while retries are left
    WAIT = "wait"  # rate limited: wait, do not spend a retry
    FATAL = "fatal"  # no retry


class TaskSpec(NamedTuple):
    """One task as parsed from input, before it is stored.

    A NamedTuple, not a frozen dataclass: one is built per input line, and a
    frozen dataclass's __init__ costs a setattr call per field.
    """

    id: str
    seq: int  # 1-based position in the input: the input order
    kind: str
    spec: dict[str, Any]  # the kind's own fields, normalised by Kind.parse
    priority: int = DEFAULT_PRIORITY
    retries: int | None = None  # None: the job's default
    timeout_s: float | None = None  # None: the job's default
    depends_on: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    profile: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobOptions:
    """How a job runs; stored with the job so resume needs no config file."""

    concurrency: int = 1
    retries: int = 2
    retry_delay_s: float = 1.0
    timeout_s: float | None = None
    fail_fast: FailFast = FailFast.OFF
    validate_cmd: str | None = None
    validate_rounds: int = 2
    profile_limits: Mapping[str, int] = field(default_factory=dict)
    resource_limits: Mapping[str, int] = field(default_factory=dict)
    cwd: str | None = None  # default working directory of shell tasks
    # [endpoints.NAME] tables for llm tasks: environment variable names, never secrets.
    endpoints: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cache: bool = False  # reuse stored responses of identical llm requests

    def to_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "retries": self.retries,
            "retry_delay_s": self.retry_delay_s,
            "timeout_s": self.timeout_s,
            "fail_fast": self.fail_fast.value,
            "validate_cmd": self.validate_cmd,
            "validate_rounds": self.validate_rounds,
            "profile_limits": dict(self.profile_limits),
            "resource_limits": dict(self.resource_limits),
            "cwd": self.cwd,
            "endpoints": {name: dict(table) for name, table in self.endpoints.items()},
            "cache": self.cache,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobOptions:
        return cls(
            concurrency=int(data.get("concurrency", 1)),
            retries=int(data.get("retries", 2)),
            retry_delay_s=float(data.get("retry_delay_s", 1.0)),
            timeout_s=data.get("timeout_s"),
            fail_fast=FailFast(data.get("fail_fast", "off")),
            validate_cmd=data.get("validate_cmd"),
            validate_rounds=int(data.get("validate_rounds", 2)),
            profile_limits=dict(data.get("profile_limits") or {}),
            resource_limits=dict(data.get("resource_limits") or {}),
            cwd=data.get("cwd"),
            endpoints=dict(data.get("endpoints") or {}),
            cache=bool(data.get("cache", False)),
        )


@dataclass(frozen=True, slots=True)
class RunnerInfo:
    """Who runs a job: enough to tell whether that process is still alive.

    A worker's runner id starts with :data:`WORKER_RUNNER_PREFIX`: a job whose
    worker died is taken up by another worker, as a job handed back would be.
    """

    runner_id: str
    host: str
    pid: int
    started_at: float  # when the runner process started (guards against pid reuse)
    heartbeat_at: float
    lease_s: float

    @property
    def is_worker(self) -> bool:
        """Whether a worker (``taskfleet worker`` or ``serve``) runs the job."""
        return self.runner_id.startswith(WORKER_RUNNER_PREFIX)


WORKER_RUNNER_PREFIX = "worker@"
# The statuses a worker takes a job from: queued, or interrupted (by its worker's death).
WORKER_CLAIMABLE_JOB_STATES = (JobStatus.QUEUED, JobStatus.INTERRUPTED)


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored."""

    job_id: str
    name: str
    status: JobStatus
    options: JobOptions
    created_at: float
    total: int
    started_at: float | None = None
    finished_at: float | None = None
    runner: RunnerInfo | None = None
    validation_round: int = 0
    error: str | None = None  # job-level error (e.g. the validation command failed)
    usage: Mapping[str, float] = field(default_factory=dict)
    # What an interface remembers of the job (e.g. the OpenAI batch it stands for).
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An uploaded file (the OpenAI-compatible Batch API's input and output files)."""

    file_id: str
    purpose: str
    filename: str
    bytes: int
    created_at: float


@dataclass(slots=True)
class Task:
    """A task as stored, with its current state."""

    job_id: str
    seq: int
    id: str
    kind: str
    status: TaskStatus
    spec: dict[str, Any]
    priority: int = DEFAULT_PRIORITY
    retries: int | None = None
    timeout_s: float | None = None
    depends_on: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    profile: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    attempts: int = 0  # attempts started, including ones cut short by a crash
    failures: int = 0  # failed attempts counted against `retries`
    result: Any = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_s: float | None = None
    not_before: float | None = None  # earliest start of the next attempt
    lease_owner: str | None = None  # runner_id that holds this task


@dataclass(frozen=True, slots=True)
class Attempt:
    """One recorded attempt of a task."""

    task_id: str
    number: int  # 1-based
    runner_id: str
    started_at: float
    finished_at: float | None = None
    outcome: str | None = None  # succeeded, failed, cancelled, interrupted; None while running
    error: str | None = None


# Key of a result dict that holds transport details of an llm answer (HTTP status,
# request id; for a failure also the body) for `results --format openai-batch`.
# The plain result formats drop it.
RESPONSE_META = "_response"


class Outcome(NamedTuple):
    """What one attempt of a kind produced (a NamedTuple: built once per attempt)."""

    ok: bool
    result: Any = None
    error: str | None = None
    error_class: ErrorClass = ErrorClass.RETRYABLE
    retry_after_s: float | None = None
    usage: Mapping[str, float] | None = None

    @classmethod
    def success(cls, result: Any = None, *, usage: Mapping[str, float] | None = None) -> Outcome:
        return cls(ok=True, result=result, usage=usage)

    @classmethod
    def failure(
        cls,
        error: str,
        *,
        result: Any = None,
        error_class: ErrorClass = ErrorClass.RETRYABLE,
        retry_after_s: float | None = None,
        usage: Mapping[str, float] | None = None,
    ) -> Outcome:
        return cls(
            ok=False,
            result=result,
            error=error,
            error_class=error_class,
            retry_after_s=retry_after_s,
            usage=usage,
        )


# Writes that the runner batches into group commits (Store.record). NamedTuples:
# immutable like the rest of the model, and cheap to build on the per-task hot path.


class AttemptStarted(NamedTuple):
    seq: int
    attempt: int  # 1-based attempt number
    runner_id: str
    started_at: float


class AttemptFinished(NamedTuple):
    """The end of an attempt and the task's state after it.

    ``status`` is the task's new state: a final one, ``pending`` (a retry is
    due at ``not_before``, the runner keeps its lease) or ``queued`` (the
    attempt was interrupted and does not count; the lease is released).
    """

    seq: int
    attempt: int
    status: TaskStatus
    attempt_outcome: str  # succeeded, failed, cancelled, interrupted
    finished_at: float
    duration_s: float
    failures: int
    result: Any = None
    error: str | None = None
    not_before: float | None = None
    # Set when this update also carries the attempt's start: the attempt began
    # and ended between two group commits (a fast task), one row write for both.
    runner_id: str | None = None
    started_at: float | None = None


TaskUpdate = AttemptStarted | AttemptFinished


class TaskChange(NamedTuple):
    """One state change of a task, as the store logged it (for event streams).

    ``change_seq`` increases across the whole store with every change, so a
    reader that remembers the last one it saw misses nothing and sees nothing twice.
    """

    change_seq: int
    task_id: str
    status: TaskStatus
    attempt: int
    error: str | None = None
    finished_at: float | None = None  # when a final status was reached


@dataclass(frozen=True, slots=True)
class StatusCounts:
    """How many tasks of a job are in each state."""

    pending: int = 0
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return (
            self.pending
            + self.queued
            + self.running
            + self.succeeded
            + self.failed
            + self.cancelled
            + self.skipped
        )

    @property
    def ended(self) -> int:
        return self.succeeded + self.failed + self.cancelled + self.skipped

    @property
    def open(self) -> int:
        return self.pending + self.queued + self.running

    @classmethod
    def from_mapping(cls, counts: Mapping[TaskStatus, int]) -> StatusCounts:
        return cls(**{status.value: int(counts.get(status, 0)) for status in TaskStatus})

    def as_dict(self) -> dict[str, int]:
        return {status.value: getattr(self, status.value) for status in TaskStatus}
