"""Limits read from x-ratelimit-* headers, and a rate limiter adopting them."""

from __future__ import annotations

import pytest

from taskfleet.kinds.llm.stated_limits import StatedLimits, parse_duration, stated_limits
from taskfleet.limits.rate_limits import RateLimiter


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.25s", 0.25)],
)
def test_durations_in_openai_form(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [None, "", "soon", "5", "1x", "s1", "1s ago"])
def test_what_is_not_a_duration(text: str | None) -> None:
    assert parse_duration(text) is None


def test_openai_headers_state_requests_and_tokens_per_minute() -> None:
    headers = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-reset-tokens": "2s",
    }
    assert stated_limits(headers) == StatedLimits(500.0, 30000.0)


def test_a_limit_that_refills_over_more_than_a_minute_is_not_per_minute() -> None:
    # Groq: requests per day under the same name; tokens per minute.
    headers = {
        "x-ratelimit-limit-requests": "1000",
        "x-ratelimit-reset-requests": "1m26.4s",
        "x-ratelimit-limit-tokens": "6000",
        "x-ratelimit-reset-tokens": "7.66s",
    }
    assert stated_limits(headers) == StatedLimits(None, 6000.0)


@pytest.mark.parametrize("value", ["", "-3", "0", "nan", "lots"])
def test_nonsense_states_nothing(value: str) -> None:
    assert stated_limits({"x-ratelimit-limit-requests": value}) is None
    assert stated_limits({}) is None


def test_a_learned_limit_paces_requests_from_then_on() -> None:
    limiter = RateLimiter(0.0, share=1.0)
    assert all(limiter.try_reserve(10, 0.0).reservation for _ in range(50))  # no limit yet
    limiter.learn(60.0, None, 0.0)  # one a second
    assert limiter.try_reserve(10, 0.0).reservation is not None  # the bucket's first request
    refused = limiter.try_reserve(10, 0.0)
    assert refused.reservation is None and refused.waiting_on == "rpm"
    assert refused.wait_s == pytest.approx(1.0)
    limiter.learn(120.0, None, 0.0)  # a new stated limit replaces the old one
    assert limiter.try_reserve(10, 0.0).wait_s == pytest.approx(0.5)


def test_a_configured_limit_wins_over_a_stated_one() -> None:
    limiter = RateLimiter(0.0, requests_per_minute=60.0, share=1.0)
    limiter.learn(6000.0, 1000.0, 0.0)
    assert limiter.try_reserve(0, 0.0).reservation is not None
    assert limiter.try_reserve(0, 0.0).wait_s == pytest.approx(1.0)  # still one a second
    # The tokens were not configured: the stated tokens per minute apply.
    assert limiter.try_reserve(100, 5.0).reservation is not None  # a full bucket, then a debt
    refused = limiter.try_reserve(100, 5.0)
    assert refused.waiting_on == "tpm" and refused.wait_s == pytest.approx(6.0)
