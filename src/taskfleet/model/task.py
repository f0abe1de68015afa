"""A task as parsed and as stored, its attempts, and what one attempt produced.

A task's two names (see ``taskfleet.model``): ``id``, the user's name for it,
and ``seq``, its position in the input, the key inside a job.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from taskfleet.model.states import TaskStatus

PRIORITY_NAMES: Mapping[str, int] = {"critical": 3, "high": 2, "medium": 1, "low": 0}
DEFAULT_PRIORITY = PRIORITY_NAMES["medium"]


class ErrorClass(enum.StrEnum):
    """What a failed attempt calls for: the retry policy reads it (engine/retry.py)."""

    RETRYABLE = "retryable"  # retry with backoff while retries are left
    WAIT = "wait"  # rate limited: wait, do not spend a retry
    FATAL = "fatal"  # no retry


class TaskSpec(NamedTuple):
    """One task as parsed from input, before it is stored (``id`` and ``seq`` as on Task).

    A NamedTuple, not a frozen dataclass: one is built per input line, and a
    frozen dataclass's __init__ costs a setattr call per field.
    """

    id: str
    seq: int
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
    meta: dict[str, Any] | None = None  # the user's own data, kept and shown in results


@dataclass(slots=True)
class Task:
    """A task as stored, with its current state.

    ``id`` is the user's name for the task: unique in its job, what every
    interface shows and takes, and what other records call ``task_id``
    (Attempt, TaskChange, the ``depends_on`` lists). ``seq`` is its 1-based
    position in input order: the key the engine and the stores use inside a
    job (claims, windows, group commits), the order ties break in, and the
    cursor of ``list_tasks`` pages. A variable named ``seq`` holds a seq, one
    named ``task_id`` (or ``id``) holds an id; never the other way round.
    """

    job_id: str
    seq: int  # 1-based position in the input
    id: str  # the user's name, unique in the job
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
    meta: dict[str, Any] | None = None  # the user's own data (the task's ``meta`` field)


class AttemptOutcome(enum.StrEnum):
    """How one attempt ended (``attempts.outcome``); None while it runs."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # cut by a crash or a stop: does not spend a retry


@dataclass(frozen=True, slots=True)
class Attempt:
    """One recorded attempt of a task."""

    task_id: str  # the task's id (its name), not its seq
    number: int  # 1-based
    runner_id: str
    started_at: float
    finished_at: float | None = None
    outcome: AttemptOutcome | None = None  # None while it runs
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
