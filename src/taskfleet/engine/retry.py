"""Retry policy: a task's state after an attempt, with exponential backoff and full jitter."""

from __future__ import annotations

import random
from typing import NamedTuple

from taskfleet.model import AttemptOutcome, ErrorClass, Outcome, TaskStatus

MAX_BACKOFF_S = 60.0


def backoff_delay_s(
    failures: int, base_s: float, *, cap_s: float = MAX_BACKOFF_S, rng: random.Random | None = None
) -> float:
    """Full-jitter delay before the retry that follows the ``failures``-th failure.

    Uniform in [0, min(cap, base * 2**(failures-1))]: the AWS "full jitter"
    scheme, which spreads retries of many tasks that failed together.
    """
    ceiling = min(cap_s, base_s * (2 ** max(failures - 1, 0)))
    return (rng or random).uniform(0.0, ceiling)


# Rate-limit waits do not spend retries, but an endpoint that never recovers
# must not hold a task forever.
MAX_RATE_LIMIT_WAITS = 50


class NextState(NamedTuple):
    """A task's state after an attempt."""

    status: TaskStatus  # succeeded, pending (retry at not_before) or failed
    attempt_outcome: AttemptOutcome
    not_before: float | None
    failures: int
    rate_waits: int


def after_attempt(
    outcome: Outcome,
    *,
    failures: int,
    rate_waits: int,
    retries: int,
    retry_delay_s: float,
    now: float,
    rng: random.Random | None = None,
) -> NextState:
    """Decide what follows an attempt: done, a retry (and when), or failed for good.

    A rate-limit wait (``ErrorClass.WAIT``) does not spend a retry, up to
    MAX_RATE_LIMIT_WAITS; a ``Retry-After`` wins over the computed backoff.
    """
    if outcome.ok:
        return NextState(TaskStatus.SUCCEEDED, AttemptOutcome.SUCCEEDED, None, failures, rate_waits)
    if outcome.error_class is ErrorClass.WAIT and rate_waits < MAX_RATE_LIMIT_WAITS:
        delay = outcome.retry_after_s
        if delay is None:
            delay = backoff_delay_s(rate_waits + 1, retry_delay_s, rng=rng)
        return NextState(
            TaskStatus.PENDING, AttemptOutcome.FAILED, now + delay, failures, rate_waits + 1
        )
    failures += 1
    if outcome.error_class is not ErrorClass.FATAL and failures <= retries:
        delay = outcome.retry_after_s
        if delay is None:
            delay = backoff_delay_s(failures, retry_delay_s, rng=rng)
        return NextState(
            TaskStatus.PENDING, AttemptOutcome.FAILED, now + delay, failures, rate_waits
        )
    return NextState(TaskStatus.FAILED, AttemptOutcome.FAILED, None, failures, rate_waits)


def after_cancel(cancel_as: TaskStatus | None) -> tuple[TaskStatus, AttemptOutcome]:
    """A cancelled attempt, which spends no retry: (the task's status, the attempt's outcome).

    ``cancel_as`` is why the runner cancelled it: ``queued`` (a stop or a lost
    lease: the attempt was interrupted and runs again) or ``cancelled``.
    """
    if cancel_as is TaskStatus.QUEUED:
        return TaskStatus.QUEUED, AttemptOutcome.INTERRUPTED
    return TaskStatus.CANCELLED, AttemptOutcome.CANCELLED
