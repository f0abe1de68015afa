"""Request and token rate limits, endpoint cooldowns and adaptive concurrency.

Pure and synchronous: every method takes ``now`` (seconds, any monotonic
clock) so that tests drive time by hand. The async waiting around them lives
with the kind that uses them (``taskfleet.kinds.llm.gate``).

Limits are smooth (SPEC section 1): a per-minute budget is a bucket holding
at most one second's worth (``per_minute / 60``), refilled continuously.
Providers quantize per-minute limits to shorter windows, so a full minute's
burst at start-up is exactly what earns a 429; with a one-second bucket no
window of any length sees more than ``rate * window + one second's worth``.

Buckets start nearly empty (one request, no tokens), not full: a full bucket
at start would let the first second carry two seconds' worth, which is
exactly what a provider counting per second rejects.

A reservation may be larger than the bucket (one request of 3,000 tokens
against 60,000 tokens per minute, i.e. 1,000 a second): it is let through
once the bucket is full and leaves the level negative, a debt that the
refill pays back before anything else passes. Only a reservation larger than
the whole per-minute budget can never pass; callers reject it up front.
"""

from __future__ import annotations

from dataclasses import dataclass

SECONDS_PER_MINUTE = 60.0


class SmoothBudget:
    """A token bucket of one second's worth of a per-minute rate."""

    def __init__(self, per_minute: float, now: float, *, initial: float | None = None) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be > 0")
        self.per_minute = per_minute
        self.rate_per_s = per_minute / SECONDS_PER_MINUTE
        self.capacity = self.rate_per_s  # one second's worth
        self._level = self.capacity if initial is None else min(initial, self.capacity)
        self._updated_at = now

    def level(self, now: float) -> float:
        """What may be taken now (negative while a large reservation is paid back)."""
        self._refill(now)
        return self._level

    def wait_s(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` may be taken; 0.0 if it may be taken now."""
        self._refill(now)
        # Anything up to a full bucket waits for itself; more waits for a full bucket.
        needed = min(amount, self.capacity)
        if self._level >= needed:
            return 0.0
        return (needed - self._level) / self.rate_per_s

    def take(self, amount: float, now: float) -> None:
        """Take ``amount`` (call only when ``wait_s`` said 0)."""
        self._refill(now)
        self._level -= amount

    def give_back(self, amount: float, now: float) -> None:
        """Return (``amount`` > 0) or take more (< 0) after the real cost is known."""
        self._refill(now)
        self._level = min(self.capacity, self._level + amount)

    def set_rate(self, per_minute: float, now: float) -> None:
        """Change the rate (adaptive limits); the level is kept within the new bucket."""
        self._refill(now)
        self.per_minute = per_minute
        self.rate_per_s = per_minute / SECONDS_PER_MINUTE
        self.capacity = self.rate_per_s
        self._level = min(self._level, self.capacity)

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated_at
        if elapsed > 0:
            self._level = min(self.capacity, self._level + elapsed * self.rate_per_s)
            self._updated_at = now


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one request took from a limiter, to be settled with its real cost."""

    requests: int
    tokens: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a request may start: ``wait_s`` 0.0 means it was reserved."""

    wait_s: float
    waiting_on: str | None = None  # "rpm", "tpm", "cooldown", "concurrency"
    reservation: Reservation | None = None


class TooLarge(ValueError):
    """A request needs more tokens than the whole per-minute budget: it can never pass."""


class RateLimiter:
    """Requests per minute and tokens per minute of one (endpoint, model).

    ``try_reserve`` checks and takes in one synchronous call, so two
    coroutines of one event loop can never both pass the same check.
    """

    def __init__(
        self,
        now: float,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        share: float = 1.0,
    ) -> None:
        # ``share``: the part of the stated limits to aim at (headroom for jitter).
        self.share = share
        self.tokens_per_minute = tokens_per_minute
        self._configured = (bool(requests_per_minute), bool(tokens_per_minute))
        self.requests = None
        if requests_per_minute:
            self.requests = SmoothBudget(requests_per_minute * share, now, initial=1.0)
        self.tokens = None
        if tokens_per_minute:
            self.tokens = SmoothBudget(tokens_per_minute * share, now, initial=0.0)

    def learn(
        self, requests_per_minute: float | None, tokens_per_minute: float | None, now: float
    ) -> None:
        """Limits the endpoint stated in an answer; those given when built are kept.

        A learned limit starts its bucket nearly empty, as a configured one does:
        what was sent before it was known is not counted.
        """
        if requests_per_minute and not self._configured[0]:
            self.requests = _with_rate(self.requests, requests_per_minute * self.share, now, 1.0)
        if tokens_per_minute and not self._configured[1]:
            self.tokens = _with_rate(self.tokens, tokens_per_minute * self.share, now, 0.0)

    def check_size(self, tokens: float) -> None:
        """Raise TooLarge if ``tokens`` exceeds the whole per-minute token budget."""
        budget = self.tokens_per_minute
        if budget is not None and tokens > budget:
            raise TooLarge(
                f"request needs about {tokens:.0f} tokens, more than the endpoint's "
                f"whole budget of {budget:.0f} tokens per minute"
            )

    def try_reserve(self, tokens: float, now: float) -> Verdict:
        """Reserve one request and ``tokens``, or say how long to wait and why."""
        request_wait = self.requests.wait_s(1, now) if self.requests else 0.0
        token_wait = self.tokens.wait_s(tokens, now) if self.tokens else 0.0
        if request_wait > 0 or token_wait > 0:
            on = "rpm" if request_wait >= token_wait else "tpm"
            return Verdict(max(request_wait, token_wait), on)
        if self.requests is not None:
            self.requests.take(1, now)
        if self.tokens is not None:
            self.tokens.take(tokens, now)
        return Verdict(0.0, None, Reservation(1, tokens))

    def settle(self, reservation: Reservation, actual_tokens: float | None, now: float) -> None:
        """Correct the token reservation by the real usage (None: keep the estimate)."""
        if self.tokens is not None and actual_tokens is not None:
            self.tokens.give_back(reservation.tokens - actual_tokens, now)


def _with_rate(
    budget: SmoothBudget | None, per_minute: float, now: float, initial: float
) -> SmoothBudget:
    if budget is None:
        return SmoothBudget(per_minute, now, initial=initial)
    if budget.per_minute != per_minute:
        budget.set_rate(per_minute, now)
    return budget


class Cooldown:
    """An endpoint told us to wait (429, 503): nothing is sent to it until ``until``."""

    def __init__(self) -> None:
        self.until = 0.0

    def extend(self, delay_s: float, now: float) -> None:
        """Block until ``now + delay_s`` (a later cooldown never shortens an earlier one)."""
        self.until = max(self.until, now + max(delay_s, 0.0))

    def remaining_s(self, now: float) -> float:
        return max(self.until - now, 0.0)


class AimdConcurrency:
    """Additive-increase, multiplicative-decrease concurrency for endpoints that
    do not state their limits (Ollama, vLLM).

    Starts at ``initial`` and, until the first overload, adds one slot per
    success (slow start: doubling every round of requests, so a remote API
    with seconds of latency reaches a useful concurrency in a few rounds, not
    a few minutes); after that every success with a normal latency adds
    ``1 / limit`` (one more slot per round, as TCP's congestion window). An
    overload (429, 503) or a latency above ``latency_factor`` times the best
    seen halves it, at most once per ``cut_interval_s`` so that a burst of
    rejections from one round counts once.
    """

    def __init__(
        self,
        maximum: int,
        *,
        initial: int = 2,
        minimum: int = 1,
        latency_factor: float = 3.0,
        cut_interval_s: float = 1.0,
    ) -> None:
        self.maximum = max(maximum, minimum)
        self.minimum = minimum
        self.limit = float(min(max(initial, minimum), self.maximum))
        self.in_flight = 0
        self.latency_factor = latency_factor
        self.cut_interval_s = cut_interval_s
        self._best_latency_s: float | None = None
        self._last_cut_at = float("-inf")
        self.slow_start = True

    def can_start(self) -> bool:
        return self.in_flight < int(self.limit)

    def started(self) -> None:
        self.in_flight += 1

    def finished(self) -> None:
        self.in_flight = max(self.in_flight - 1, 0)

    def on_success(self, latency_s: float, now: float) -> None:
        """Grow, unless the latency says the server is queueing our requests."""
        best = self._best_latency_s
        if best is None or latency_s < best:
            self._best_latency_s = best = latency_s
        # A floor on the reference latency: a 2 ms best would make every 7 ms reply "slow".
        if latency_s > self.latency_factor * max(best, 0.05):
            self.on_overload(now)
            return
        step = 1.0 if self.slow_start else 1.0 / self.limit
        self.limit = min(float(self.maximum), self.limit + step)

    def on_overload(self, now: float) -> None:
        """Halve the limit (once per cut interval)."""
        self.slow_start = False
        if now - self._last_cut_at < self.cut_interval_s:
            return
        self._last_cut_at = now
        self.limit = max(float(self.minimum), self.limit / 2)


class AdaptiveRate:
    """A request rate learned from an endpoint that rejects but does not say its limit.

    Until the first rejection there is no rate limit at all. At the first
    rejection the rate becomes what was accepted over the last few seconds
    (over at least one second: a burst of 20 in the first 50 ms says 20 a
    second, not 400); afterwards each rejection multiplies it by ``decrease``
    and every second without one grows it by ``increase_share``, so the
    sending rate probes just below the server's limit and meets a 429 once
    every few seconds.
    """

    WINDOW_S = 3.0

    def __init__(self, *, decrease: float = 0.9, increase_share: float = 0.05) -> None:
        self.decrease = decrease
        self.increase_share = increase_share
        self.budget: SmoothBudget | None = None
        self._accepted: list[float] = []  # times of accepted requests in the window
        self._last_cut_at = float("-inf")
        self._grown_at = 0.0

    def wait_s(self, now: float) -> float:
        if self.budget is None:
            return 0.0
        self._grow(now)
        return self.budget.wait_s(1, now)

    def take(self, now: float) -> None:
        if self.budget is not None:
            self.budget.take(1, now)

    def on_accepted(self, now: float) -> None:
        self._accepted.append(now)
        horizon = now - self.WINDOW_S
        if self._accepted[0] < horizon:
            self._accepted = [t for t in self._accepted if t >= horizon]

    def on_rejected(self, now: float) -> None:
        """A 429: start limiting at the observed rate, or lower the current one."""
        if now - self._last_cut_at < 1.0:
            return  # one round of rejections is one signal
        self._last_cut_at = now
        self._grown_at = now
        if self.budget is None:
            horizon = now - self.WINDOW_S
            recent = [t for t in self._accepted if t >= horizon]
            span_s = max(now - recent[0], 1.0) if recent else self.WINDOW_S
            per_minute = max(len(recent) / span_s, 1.0) * SECONDS_PER_MINUTE
            self.budget = SmoothBudget(per_minute * self.decrease, now, initial=0.0)
            return
        self.budget.set_rate(max(self.budget.per_minute * self.decrease, 1.0), now)

    def _grow(self, now: float) -> None:
        assert self.budget is not None
        elapsed = now - self._grown_at
        if elapsed >= 1.0:
            self._grown_at = now
            grown = self.budget.per_minute * (1 + self.increase_share) ** elapsed
            self.budget.set_rate(grown, now)

    @property
    def per_minute(self) -> float | None:
        return None if self.budget is None else self.budget.per_minute
