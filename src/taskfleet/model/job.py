"""A job: its options, its runner, its counts per task state; and uploaded files."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taskfleet.model.states import JobStatus, TaskStatus


class RunMode(enum.StrEnum):
    """Why a runner takes a job up: its first run, a resume, or a selective retry."""

    RUN = "run"
    RESUME = "resume"
    RETRY = "retry"


class FailFast(enum.StrEnum):
    """What a task that fails for good does to the rest of its job."""

    OFF = "off"
    GRACEFUL = "graceful"  # --fail-fast: start nothing new, let running tasks end
    NOW = "now"  # --fail-fast=now: also cancel the running ones


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
    repo: str | None = None  # agent tasks' default repository (--repo); None: the cwd's
    # Agent tasks: the [agents] table (copy_files, setup_command) and keep_worktrees.
    agents: Mapping[str, Any] = field(default_factory=dict)
    # The merge point (agents): merge succeeded branches when the job ends, into
    # merge_into (recorded at submit: the branch checked out then), checked by
    # merge_check (None: each task's check_command), then push the target once.
    merge: bool = False
    merge_into: str | None = None
    merge_check: str | None = None
    push: bool = False

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
            "repo": self.repo,
            "agents": dict(self.agents),
            "merge": self.merge,
            "merge_into": self.merge_into,
            "merge_check": self.merge_check,
            "push": self.push,
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
            repo=data.get("repo"),
            agents=dict(data.get("agents") or {}),
            merge=bool(data.get("merge", False)),
            merge_into=data.get("merge_into"),
            merge_check=data.get("merge_check"),
            push=bool(data.get("push", False)),
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
    # Time spent running is the sum of the runs' spans, not the wall time since
    # started_at: a resume or retry after an idle gap must not count the gap.
    run_started_at: float | None = None  # when the current run began; None between runs
    run_seconds: float = 0.0  # the spans of the ended runs, added up

    def run_time_s(self, now: float) -> float:
        """Seconds spent running: the ended runs' spans plus the current run's so far."""
        if self.run_started_at is None or self.status is not JobStatus.RUNNING:
            return self.run_seconds
        return self.run_seconds + max(now - self.run_started_at, 0.0)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An uploaded file (the OpenAI-compatible Batch API's input and output files)."""

    file_id: str
    purpose: str
    filename: str
    bytes: int
    created_at: float


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
