"""Retry policy: backoff bounds and what follows an attempt."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from taskfleet.engine.retry import MAX_RATE_LIMIT_WAITS, after_attempt, backoff_delay_s
from taskfleet.model import ErrorClass, Outcome, TaskStatus


@given(st.integers(1, 40), st.floats(0, 10))
def test_backoff_is_full_jitter_capped_at_60s(failures: int, base: float) -> None:
    delay = backoff_delay_s(failures, base, rng=random.Random(failures))
    assert 0 <= delay <= min(60.0, base * 2 ** (failures - 1))


def test_backoff_doubles() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert [backoff_delay_s(n, 1.0, rng=Top()) for n in (1, 2, 3, 7, 8)] == [1, 2, 4, 60, 60]


def decide(outcome: Outcome, failures: int = 0, waits: int = 0, retries: int = 2):  # type: ignore[no-untyped-def]
    return after_attempt(
        outcome, failures=failures, rate_waits=waits, retries=retries, retry_delay_s=1.0, now=100.0
    )


def test_success() -> None:
    assert decide(Outcome.success(1)).status is TaskStatus.SUCCEEDED


def test_retryable_until_retries_are_spent() -> None:
    first = decide(Outcome.failure("x"), failures=0)
    assert first.status is TaskStatus.PENDING and first.failures == 1
    assert first.not_before is not None and 100.0 <= first.not_before <= 101.0
    last = decide(Outcome.failure("x"), failures=2)
    assert last.status is TaskStatus.FAILED and last.failures == 3


def test_fatal_fails_at_once() -> None:
    state = decide(Outcome.failure("x", error_class=ErrorClass.FATAL))
    assert state.status is TaskStatus.FAILED and state.failures == 1


def test_retry_after_wins_over_backoff() -> None:
    state = decide(Outcome.failure("x", retry_after_s=7.5))
    assert state.not_before == 107.5


def test_rate_limit_waits_spend_no_retry_but_are_bounded() -> None:
    wait = Outcome.failure("429", error_class=ErrorClass.WAIT, retry_after_s=2.0)
    state = decide(wait, retries=0)
    assert (state.status, state.failures, state.rate_waits, state.not_before) == (
        TaskStatus.PENDING,
        0,
        1,
        102.0,
    )
    exhausted = decide(wait, retries=0, waits=MAX_RATE_LIMIT_WAITS)
    assert exhausted.status is TaskStatus.FAILED and exhausted.failures == 1
