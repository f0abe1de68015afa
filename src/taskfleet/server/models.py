"""Request and response bodies of the REST API (pydantic), for validation and OpenAPI."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from taskfleet.model import JobOptions
from taskfleet.service.submit import JobOverrides, fail_fast_mode


class JobCreate(BaseModel):
    """``POST /jobs``: the tasks and the options of ``taskfleet submit``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    tasks: list[Any] = Field(min_length=1, description="Task objects, as lines of a task file")
    id: str | None = Field(None, min_length=1, description="Job id (default: a new unique id)")
    name: str = ""
    concurrency: int | None = Field(None, ge=1)
    retries: int | None = Field(None, ge=0)
    retry_delay: float | None = Field(None, ge=0)
    timeout: float | None = Field(None, gt=0)
    fail_fast: bool | Literal["now"] = False
    validate_cmd: str | None = Field(None, alias="validate", min_length=1)
    validate_rounds: int = Field(2, ge=0)
    # The merge point of agent tasks (SPEC section 8), as run --merge* and --push.
    merge: bool = False
    merge_into: str | None = Field(None, min_length=1)
    merge_check: str | None = Field(None, min_length=1)
    push: bool = False

    def with_merge(self, options: JobOptions) -> JobOptions:
        """``options`` with the body's merge choices; the target defaults to the root's branch."""
        import dataclasses

        from taskfleet.service.git import branch_at_submit

        merge_into = self.merge_into
        if merge_into is None and self.merge and options.cwd:
            merge_into = branch_at_submit(options.cwd)
        return dataclasses.replace(
            options,
            merge=self.merge,
            merge_into=merge_into,
            merge_check=self.merge_check,
            push=self.push,
        )

    def overrides(self) -> JobOverrides:
        """The body's options over the server's settings, as flags over config (None: setting)."""
        return JobOverrides(
            concurrency=self.concurrency,
            retries=self.retries,
            retry_delay_s=self.retry_delay,
            timeout_s=self.timeout,
            fail_fast=fail_fast_mode(self.fail_fast),
            validate_cmd=self.validate_cmd,
            validate_rounds=self.validate_rounds,
        )


class Progress(BaseModel):
    """A job's progress."""

    total: int
    processed: int
    successful: int
    failed: int
    skipped: int
    cancelled: int
    running: int
    percentage: float
    elapsed_seconds: float
    items_per_second: float
    estimated_remaining_seconds: float | None
    current_item: str | None


class JobOut(BaseModel):
    """A job: the object of ``taskfleet status --json`` with ``progress`` as a block."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    name: str
    status: str
    total: int
    pending: int
    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    skipped: int
    progress: Progress
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    elapsed_seconds: float
    items_per_second: float
    eta_seconds: float | None
    error: str | None


class JobList(BaseModel):
    jobs: list[JobOut]
    total: int
    limit: int
    offset: int


class TaskRow(BaseModel):
    """One task in a list (``tasks --json`` plus its position and times)."""

    seq: int
    id: str
    kind: str
    status: str
    attempts: int
    priority: int
    error: str | None
    description: str
    started_at: str | None
    finished_at: str | None
    duration: float | None


class TaskList(BaseModel):
    tasks: list[TaskRow]
    next_after: int | None = Field(description="Pass as ?after= for the next page; null: no more")


class AttemptOut(BaseModel):
    number: int
    runner_id: str
    started_at: str | None
    finished_at: str | None
    outcome: str | None
    error: str | None


class TaskDetail(BaseModel):
    """One task: its results record, what it was asked to do, and every attempt."""

    id: str
    kind: str
    status: str
    attempts: int
    result: Any
    error: str | None
    started_at: str | None
    finished_at: str | None
    duration: float | None
    spec: dict[str, Any]
    description: str
    depends_on: list[str]
    attempt_history: list[AttemptOut]


class Health(BaseModel):
    status: str = "ok"
    version: str


class BatchTarget(BaseModel):
    """A file or module a batch command is run against."""

    id: str | None = None
    path: str = Field(min_length=1)


class BatchValidation(BaseModel):
    """``POST /batch/validation``: one shell task per target."""

    targets: list[BatchTarget] = Field(min_length=1)
    check_command: str = Field(min_length=1)
    parallel: int | bool = True


class BatchTests(BaseModel):
    """``POST /batch/tests``: one shell task per module."""

    modules: list[BatchTarget] = Field(min_length=1)
    test_command: str = Field(min_length=1)
    parallel: int | bool = True


class McpOperation(BaseModel):
    """One fs operation."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    type: Literal["read", "write", "list", "command"]
    path: str | None = None
    content: str | None = None
    command: str | list[str] | None = None


class BatchMcpOperations(BaseModel):
    """``POST /batch/mcp-operations``: one fs task per operation."""

    operations: list[McpOperation] = Field(min_length=1)
    parallel: int | bool = True


class BatchSummary(BaseModel):
    total: int
    successful: int
    failed: int
    skipped: int


class BatchResult(BaseModel):
    summary: BatchSummary
    results: list[dict[str, Any]] | None = None
    elapsed_seconds: float


class BatchJob(BaseModel):
    """A job in the shape of the older batch API."""

    job_id: str
    status: str
    progress: float
    result: BatchResult
    error: str | None
    created_at: str | None
    started_at: str | None
    completed_at: str | None
    metadata: dict[str, Any]


class BatchJobList(BaseModel):
    jobs: list[BatchJob]
    total: int
