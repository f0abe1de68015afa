"""The one exception tree of taskfleet.

Callers catch exactly the class they mean; the CLI maps classes to exit codes
in one place (``taskfleet.cli.exit_codes``).

    TaskfleetError
    ├── UsageError                 bad flags or settings (exit 2)
    │   └── ConfigError            taskfleet.toml / pyproject.toml is wrong
    ├── TaskfileError              bad task input: one or more TaskfileIssue (exit 2)
    ├── NotFound                   (exit 3)
    │   ├── JobNotFound
    │   ├── TaskNotFound
    │   └── FileNotFound           an uploaded file (the /v1 Batch API)
    ├── JobFailed                  taskfleet.map: some items failed for good
    ├── JobConflict                the job exists already, or is in a state that
    │                              forbids the action (running elsewhere, ...)
    ├── StoreError                 the database failed; driver errors are wrapped
    │   ├── LeaseLost              another runner took over this job
    │   └── InvalidTransition      a change the state machine forbids (a bug, never input)
    └── TaskError                  raised by a kind while running one attempt
        ├── RetryableError         transient: retry with backoff
        │   └── RateLimited        wait (retry_after_s), do not spend a retry
        └── FatalError             fail at once, no retry
"""

from __future__ import annotations

from dataclasses import dataclass


class TaskfleetError(Exception):
    """Root of every error taskfleet raises on purpose."""


class UsageError(TaskfleetError):
    """Bad command-line usage or settings."""


class ConfigError(UsageError):
    """The configuration file is malformed or names something unknown."""


@dataclass(frozen=True, slots=True)
class TaskfileIssue:
    """One problem in task input, located by file, line and field."""

    source: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        what = f"field '{self.field}': " if self.field else ""
        return f"{where}: {what}{self.message}"


class TaskfileError(TaskfleetError):
    """Task input was rejected; ``issues`` lists every problem found."""

    def __init__(self, issues: list[TaskfileIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class FieldError(TaskfleetError):
    """A kind rejected one field of a task spec (turned into a TaskfileIssue)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"field '{field}': {message}")


class NotFound(TaskfleetError):
    """The job or task asked for does not exist."""


class JobNotFound(NotFound):
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job '{job_id}' not found")


class TaskNotFound(NotFound):
    def __init__(self, job_id: str, task_id: str) -> None:
        self.job_id = job_id
        self.task_id = task_id
        super().__init__(f"task '{task_id}' not found in job '{job_id}'")


class FileNotFound(NotFound):
    def __init__(self, file_id: str) -> None:
        self.file_id = file_id
        super().__init__(f"file '{file_id}' not found")


class JobConflict(TaskfleetError):
    """The job exists already or its state forbids the action."""


class JobFailed(TaskfleetError):
    """Some tasks of a job ended without success; ``errors`` maps task id to error."""

    def __init__(self, job_id: str, errors: dict[str, str]) -> None:
        self.job_id = job_id
        self.errors = errors
        first = next(iter(errors.items()))
        super().__init__(
            f"job '{job_id}': {len(errors)} task(s) failed; first: {first[0]}: "
            f"{first[1].strip().splitlines()[-1] if first[1].strip() else first[1]}"
        )


class StoreError(TaskfleetError):
    """The store failed; the driver's exception is the ``__cause__``."""


class LeaseLost(StoreError):
    """This runner no longer holds the job: another process took it over."""


class InvalidTransition(StoreError):
    """A store was asked for a change the state machine (``model.states``) forbids."""


class TaskError(TaskfleetError):
    """Raised by a kind for a failed attempt; the subclass says what to do next."""

    def __init__(self, message: str, *, result: object = None) -> None:
        self.result = result
        super().__init__(message)


class RetryableError(TaskError):
    """A transient failure: retry with backoff while retries are left."""


class RateLimited(RetryableError):
    """The far side asked us to wait; waiting does not use up a retry."""

    def __init__(
        self, message: str, *, retry_after_s: float | None = None, result: object = None
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, result=result)


class FatalError(TaskError):
    """A failure that retrying cannot fix (bad request, auth, quota)."""
