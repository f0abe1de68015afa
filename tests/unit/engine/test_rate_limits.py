"""Smooth request/token budgets, cooldowns, AIMD and learned rates: pure, time by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskfleet.limits.rate_limits import (
    AdaptiveRate,
    AimdConcurrency,
    Cooldown,
    RateLimiter,
    SmoothBudget,
    TooLarge,
)

EPS = 1e-6


def _admitted(
    budget: SmoothBudget, arrivals: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Greedy clients: every arrival (time, amount) takes if the budget says it may."""
    taken = []
    for now, amount in arrivals:
        if budget.wait_s(amount, now) == 0.0:
            budget.take(amount, now)
            taken.append((now, amount))
    return taken


def _worst_excess(taken: list[tuple[float, float]], rate_per_s: float) -> float:
    """max over windows [t_i, t_j] of (taken in the window - rate * its length)."""
    worst = 0.0
    for i, (start, _) in enumerate(taken):
        total = 0.0
        for end, amount in taken[i:]:
            total += amount
            worst = max(worst, total - rate_per_s * (end - start))
    return worst


arrival_lists = st.lists(
    st.tuples(st.floats(0, 30, allow_nan=False), st.floats(0.1, 1.0)), min_size=1, max_size=120
).map(sorted)


@settings(max_examples=150, deadline=None)
@given(per_minute=st.floats(6, 6000), arrivals=arrival_lists)
def test_no_window_sees_more_than_one_seconds_worth_above_the_rate(
    per_minute: float, arrivals: list[tuple[float, float]]
) -> None:
    budget = SmoothBudget(per_minute, 0.0)
    scaled = [(t, share * budget.capacity) for t, share in arrivals]  # each fits the bucket
    taken = _admitted(budget, scaled)
    assert _worst_excess(taken, budget.rate_per_s) <= budget.capacity + EPS


@settings(max_examples=100, deadline=None)
@given(per_minute=st.floats(60, 6000), arrivals=arrival_lists, size=st.floats(1.0, 50.0))
def test_requests_larger_than_the_bucket_pass_and_are_paid_back(
    per_minute: float, arrivals: list[tuple[float, float]], size: float
) -> None:
    budget = SmoothBudget(per_minute, 0.0)
    big = min(size * budget.capacity, per_minute)
    taken = _admitted(budget, [(t, big) for t, _ in arrivals])
    assert taken, "the first one always passes: the bucket starts full"
    # At most one oversized request beyond the smooth budget in any window.
    assert _worst_excess(taken, budget.rate_per_s) <= budget.capacity + big + EPS


def test_no_burst_of_twice_the_limit_in_the_first_minute() -> None:
    limiter = RateLimiter(0.0, requests_per_minute=1200)  # 20 a second
    taken = [t / 1000 for t in range(60_000) if limiter.try_reserve(0, t / 1000).wait_s == 0]
    assert len(taken) <= 1200 + 20 + 1
    in_first_second = [t for t in taken if t < 1.0]
    assert 20 <= len(in_first_second) <= 21  # not 40: the bucket starts with one request


def test_settle_returns_unused_tokens_and_charges_overruns() -> None:
    limiter = RateLimiter(0.0, tokens_per_minute=6000)  # 100 a second
    assert limiter.try_reserve(100, 0.0).wait_s == pytest.approx(1.0)  # starts empty
    verdict = limiter.try_reserve(100, 1.0)
    assert verdict.reservation is not None and verdict.wait_s == 0
    assert limiter.try_reserve(10, 1.0).waiting_on == "tpm"
    limiter.settle(verdict.reservation, 40, 1.0)  # used 40 of the 100 reserved
    assert limiter.tokens is not None and limiter.tokens.level(1.0) == pytest.approx(60)
    second = limiter.try_reserve(50, 1.0)
    assert second.reservation is not None
    limiter.settle(second.reservation, 150, 1.0)  # used 100 more than reserved
    assert limiter.tokens.level(1.0) == pytest.approx(-90)
    assert limiter.try_reserve(10, 1.0).wait_s == pytest.approx(1.0)


def test_wait_names_the_tighter_limit() -> None:
    limiter = RateLimiter(0.0, requests_per_minute=60, tokens_per_minute=60_000)
    assert limiter.try_reserve(10, 0.0).waiting_on == "tpm"  # tokens start empty
    assert limiter.try_reserve(10, 0.01).reservation is not None
    verdict = limiter.try_reserve(10, 0.01)
    assert (verdict.waiting_on, verdict.wait_s) == ("rpm", pytest.approx(1.0))
    assert limiter.try_reserve(10, 1.01).reservation is not None


def test_a_request_above_the_whole_minute_budget_is_too_large() -> None:
    limiter = RateLimiter(0.0, tokens_per_minute=1000)
    limiter.check_size(1000)
    with pytest.raises(TooLarge, match="more than the endpoint's whole budget of 1000"):
        limiter.check_size(1001)
    RateLimiter(0.0, requests_per_minute=5).check_size(10**9)  # no token limit: anything goes


def test_cooldown_only_grows() -> None:
    cooldown = Cooldown()
    cooldown.extend(2.0, 10.0)
    cooldown.extend(0.5, 10.0)
    assert cooldown.remaining_s(11.0) == pytest.approx(1.0)
    assert cooldown.remaining_s(13.0) == 0.0


def test_aimd_doubles_until_the_first_overload_then_grows_by_one_per_round() -> None:
    aimd = AimdConcurrency(64, initial=2)
    now = 0.0
    for _ in range(2 + 4):  # slow start: a round of 2, then a round of 4
        now += 0.1
        aimd.on_success(0.1, now)
    assert aimd.limit == 8
    aimd.on_overload(now)
    assert aimd.limit == 4 and not aimd.slow_start
    for _ in range(4 + 5):  # congestion avoidance: a round of 4, then 5
        now += 0.1
        aimd.on_success(0.1, now)
    assert 5.5 <= aimd.limit <= 6.5
    aimd.on_overload(now + 1.0)
    now += 1.0
    halved = aimd.limit
    assert 2.75 <= halved <= 3.25
    aimd.on_overload(now + 0.5)  # same round of rejections: counted once
    assert aimd.limit == halved
    aimd.on_overload(now + 1.5)
    assert aimd.limit == pytest.approx(max(1.0, halved / 2))


def test_aimd_stays_within_its_bounds_and_cuts_on_rising_latency() -> None:
    aimd = AimdConcurrency(3, initial=10)
    assert aimd.limit == 3
    for i in range(100):
        aimd.on_success(0.1, float(i))
    assert aimd.limit == 3
    aimd.on_success(1.0, 200.0)  # ten times the best latency: the server is queueing
    assert aimd.limit == 1.5
    for t in range(10):
        aimd.on_overload(300.0 + 2 * t)
    assert aimd.limit == 1
    aimd.started()
    assert not aimd.can_start()
    aimd.finished()
    assert aimd.can_start()


def test_learned_rate_starts_at_the_first_rejection() -> None:
    rate = AdaptiveRate()
    for i in range(60):  # 20 a second accepted for 3 s
        rate.on_accepted(i / 20)
        assert rate.wait_s(i / 20) == 0.0
    rate.on_rejected(3.0)
    assert rate.per_minute == pytest.approx(20 * 60 * 0.9, rel=0.05)
    rate.on_rejected(3.5)  # same round
    assert rate.per_minute == pytest.approx(20 * 60 * 0.9, rel=0.05)
    before = rate.per_minute
    rate.wait_s(13.0)  # ten quiet seconds: +5% a second
    assert rate.per_minute == pytest.approx(before * 1.05**10)
    rate.on_rejected(13.0)
    assert rate.per_minute == pytest.approx(before * 1.05**10 * 0.9)


def test_learned_rate_from_an_early_burst_counts_over_one_second() -> None:
    rate = AdaptiveRate()
    for i in range(20):
        rate.on_accepted(i * 0.002)
    rate.on_rejected(0.05)
    assert rate.per_minute == pytest.approx(20 * 60 * 0.9)
