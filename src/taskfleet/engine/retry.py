"""Retry policy: exponential backoff with full jitter, and error classes."""

from __future__ import annotations

import random

from taskfleet.errors import FatalError, RateLimited, TaskError
from taskfleet.model import ErrorClass, Outcome

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
