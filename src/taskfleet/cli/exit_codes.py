"""Exit codes of every command (SPEC section 4), and the one place errors map to them."""

from __future__ import annotations

from taskfleet.errors import JobConflict, NotFound, TaskfileError, TaskfleetError, UsageError
from taskfleet.model import JobStatus

OK = 0
JOB_FAILED = 1  # the job ended with failed, skipped or cancelled tasks
BAD_INPUT = 2  # bad usage or bad input: nothing was run
NOT_FOUND = 3  # the job or task asked for does not exist
INTERRUPTED = 130  # SIGINT/SIGTERM: the job is left interrupted and resumable


def for_error(exc: TaskfleetError) -> int:
    """The exit code for an error that ends a command."""
    if isinstance(exc, NotFound):
        return NOT_FOUND
    if isinstance(exc, UsageError | TaskfileError | JobConflict):
        return BAD_INPUT
    return JOB_FAILED


def for_job(status: JobStatus) -> int:
    """The exit code of run/resume/retry for the job's final status."""
    if status is JobStatus.COMPLETED:
        return OK
    if status in (JobStatus.INTERRUPTED, JobStatus.RUNNING, JobStatus.QUEUED):
        return INTERRUPTED
    return JOB_FAILED
