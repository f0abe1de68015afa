"""The Kind protocol: how a kind of task is validated and run.

Kinds know nothing of the store or the interfaces. A kind is registered under
the ``taskfleet.kinds`` entry-point group (the built-in ones too) and is a
class whose instances satisfy :class:`Kind`.

``parse`` checks and normalises the kind's own fields of a task object when
the task file is read; it raises ``FieldError(field, message)`` for a bad
field. A kind says which fields it takes in ``fields`` (see
:func:`declared_fields`): the task file then refuses any other field, with
the nearest known name. A kind without ``fields`` (a plug-in written before
it existed) or with ``fields = None`` takes any field.

``run`` performs one attempt. It returns an :class:`Outcome` or raises a
``TaskError`` subclass (``RetryableError``, ``RateLimited``, ``FatalError``);
any other exception is a retryable failure whose error holds the traceback.
The runner enforces timeouts and cancellation by cancelling ``run``'s
coroutine: a kind must release what it holds (kill its process group) when
cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from taskfleet.errors import FatalError, RateLimited, TaskError
from taskfleet.limits.request_meter import RequestMeter
from taskfleet.model import ErrorClass, Outcome

# A line of a command's output as it comes: (stream, line), "stdout" or "stderr".
OutputListener = Callable[[str, str], None]


@dataclass(slots=True)  # not frozen: built once per attempt on the hot path
class RunContext:
    """What a kind knows about the attempt it runs."""

    job_id: str
    task_id: str  # the task's id (the user's name for it)
    attempt: int  # 1-based
    timeout_s: float | None = None
    cwd: str | None = None  # the job's default working directory
    # In-process callables that python tasks may name instead of an import path
    # (taskfleet.map registers its function here so lambdas work).
    callables: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    # The job's [endpoints.NAME] tables (llm tasks) and whether --cache was given.
    endpoints: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cache_all: bool = False
    # Stored responses of earlier identical requests (None: no store behind this run).
    response_cache: ResponseCache | None = None
    # Where a kind reports request and token rates and what it waits on (progress).
    activity: RequestMeter | None = None
    # Where a kind that produces output (shell) sends each line, without its newline.
    on_output: OutputListener | None = None
    # Agent tasks: the task's scope and description (common fields, not in its spec),
    # and the job's [agents] table (copy_files, setup_command, keep_worktrees).
    scope: tuple[str, ...] = ()
    description: str = ""
    agents: Mapping[str, Any] = field(default_factory=dict)


class ResponseCache(Protocol):
    """Responses kept in the store by key; kinds see this seam, never the store."""

    async def get(self, key: str) -> Any:
        """The response stored under ``key``, or None."""
        ...

    async def put(self, key: str, response: Any) -> None:
        """Keep ``response`` (JSON-serialisable) under ``key``."""
        ...


@runtime_checkable
class Kind(Protocol):
    """One kind of task.

    A kind that holds resources bound to an event loop (the llm kind's HTTP
    connections) may also define ``async def aclose(self) -> None``:
    :func:`taskfleet.kinds.close_kinds` calls it before a loop ends.
    """

    name: str
    # Optional (see declared_fields): ``fields: frozenset[str] | None``, the
    # kind's own fields; absent or None, the kind takes any field.

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and normalise the kind's fields; raise FieldError."""
        ...

    async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        """Run one attempt."""
        ...


def declared_fields(kind: Kind) -> frozenset[str] | None:
    """The fields a task of ``kind`` may give besides the common ones; None: any field.

    Read with getattr, not declared on the protocol: a plug-in kind that
    predates ``fields`` must still satisfy ``Kind``.
    """
    fields = getattr(kind, "fields", None)
    return None if fields is None else frozenset(fields)


def outcome_from_error(exc: TaskError) -> Outcome:
    """The outcome a kind meant by raising a TaskError subclass."""
    if isinstance(exc, RateLimited):
        return Outcome.failure(
            str(exc),
            result=exc.result,
            error_class=ErrorClass.WAIT,
            retry_after_s=exc.retry_after_s,
        )
    error_class = ErrorClass.FATAL if isinstance(exc, FatalError) else ErrorClass.RETRYABLE
    return Outcome.failure(str(exc), result=exc.result, error_class=error_class)
