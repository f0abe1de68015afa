"""The async gate in front of one endpoint: concurrency, rate limits, cooldown, dead.

One gate per endpoint per process (the kind keeps them), shared by every
task of every job this process runs against that endpoint, because the
provider's limits are shared the same way. The pure limiters live in
``taskfleet.limits.rate_limits``; this module only waits on them.

A request passes three doors in order: a concurrency slot (fixed
``max_concurrency`` when the endpoint states its limits, else AIMD), then,
holding its model's turn (an asyncio.Lock, so requests go in FIFO order and
the waiting is done by one coroutine, not a herd), the cooldown and the rate
budgets, reserved in one synchronous call.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from taskfleet.kinds.llm.endpoints import Endpoint
from taskfleet.kinds.llm.errors import Action
from taskfleet.kinds.llm.stated_limits import StatedLimits
from taskfleet.kinds.llm.tokens import CompletionEstimate
from taskfleet.limits.rate_limits import (
    AdaptiveRate,
    AimdConcurrency,
    Cooldown,
    RateLimiter,
    Reservation,
)
from taskfleet.limits.request_meter import RequestMeter

__all__ = ["DEFAULT_COOLDOWN_S", "EndpointGate", "Ticket"]

# A 429 or 503 without Retry-After still cools the endpoint down this long.
DEFAULT_COOLDOWN_S = 1.0
# Configured limits are aimed at with this share. Providers count arrivals in
# short windows; requests spaced exactly at the limit arrive a few milliseconds
# early now and then (network and scheduling jitter) and one too many lands in
# a window. 3% of headroom turns those 429s into near none.
LIMIT_SHARE = 0.97


@dataclass(slots=True)
class Ticket:
    """One admitted request: what it reserved and when it was sent."""

    model: str
    reservation: Reservation
    sent_at: float = 0.0


class EndpointGate:
    """Admits requests to one endpoint and learns from their answers."""

    def __init__(self, endpoint: Endpoint, clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoint = endpoint
        self.clock = clock
        self.cooldown = Cooldown()
        # Stated limits: a fixed ceiling. Unstated: learn both concurrency and rate.
        self.aimd: AimdConcurrency | None = None
        if not endpoint.states_limits:
            self.aimd = AimdConcurrency(endpoint.max_concurrency)
        self.in_flight = 0
        self._limiters: dict[str, RateLimiter] = {}
        self._adaptive: dict[str, AdaptiveRate] = {}
        self.completions: dict[str, CompletionEstimate] = {}
        self._turns: dict[str, asyncio.Lock] = {}
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        # (job id, credentials fingerprint) -> the auth error that stopped the endpoint
        # for that job. With the credentials in the key, a `retry` in the same
        # process after the key was fixed is not refused by the old error.
        self.dead: dict[tuple[str, str], str] = {}

    # -- admission ------------------------------------------------------------

    def limiter(self, model: str) -> RateLimiter:
        limiter = self._limiters.get(model)
        if limiter is None:
            limiter = RateLimiter(
                self.clock(),
                requests_per_minute=self.endpoint.requests_per_minute,
                tokens_per_minute=self.endpoint.tokens_per_minute,
                share=LIMIT_SHARE,
            )
            self._limiters[model] = limiter
            if self.endpoint.requests_per_minute is None:
                self._adaptive[model] = AdaptiveRate()
        return limiter

    def learn_limits(self, model: str, stated: StatedLimits) -> None:
        """Adopt the per-minute limits an answer stated (the config's win)."""
        limiter = self.limiter(model)
        limiter.learn(stated.requests_per_minute, stated.tokens_per_minute, self.clock())

    def completion_estimate(self, model: str) -> CompletionEstimate:
        return self.completions.setdefault(model, CompletionEstimate())

    async def admit(self, model: str, tokens: float, activity: RequestMeter | None) -> Ticket:
        """Wait for a slot and the budgets; raise TooLarge before waiting if it can never pass."""
        self.limiter(model).check_size(tokens)
        await self._take_slot(activity)
        try:
            turn = self._turns.setdefault(model, asyncio.Lock())
            async with turn:
                reservation = await self._reserve(model, tokens, activity)
        except BaseException:
            self._free_slot()
            raise
        return Ticket(model, reservation, self.clock())

    def _capacity(self) -> int:
        if self.aimd is not None:
            return int(self.aimd.limit)
        return self.endpoint.max_concurrency

    async def _take_slot(self, activity: RequestMeter | None) -> None:
        if self.in_flight < self._capacity():
            self.in_flight += 1
            return
        if activity is not None:
            activity.begin_wait("concurrency")
        try:
            while self.in_flight >= self._capacity():
                waiter = asyncio.get_running_loop().create_future()
                self._slot_waiters.append(waiter)
                try:
                    await waiter
                except BaseException:
                    if not waiter.done():
                        self._slot_waiters.remove(waiter)
                    elif not waiter.cancelled():
                        self._wake_waiters()  # woken, then cancelled: pass the wake-up on
                    raise
        finally:
            if activity is not None:
                activity.end_wait("concurrency")
        self.in_flight += 1

    def _free_slot(self) -> None:
        self.in_flight -= 1
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        free = self._capacity() - self.in_flight
        while free > 0 and self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    async def _reserve(
        self, model: str, tokens: float, activity: RequestMeter | None
    ) -> Reservation:
        limiter = self.limiter(model)
        adaptive = self._adaptive.get(model)
        waiting_on: str | None = None
        try:
            while True:
                now = self.clock()
                # Everything between this check and the take is synchronous: no
                # other coroutine can pass the same check in between.
                wait_s, reason = self.cooldown.remaining_s(now), "cooldown"
                if wait_s <= 0 and adaptive is not None:
                    wait_s, reason = adaptive.wait_s(now), "rate (learned)"
                if wait_s <= 0:
                    verdict = limiter.try_reserve(tokens, now)
                    if verdict.reservation is not None:
                        if adaptive is not None:
                            adaptive.take(now)
                        return verdict.reservation
                    wait_s, reason = verdict.wait_s, str(verdict.waiting_on)
                waiting_on = _switch_wait(activity, waiting_on, reason)
                if reason == "cooldown" and activity is not None:
                    activity.cooldown_until = time.time() + wait_s
                await asyncio.sleep(wait_s)
        finally:
            _switch_wait(activity, waiting_on, None)

    # -- learning from answers -------------------------------------------------

    def finish(
        self,
        ticket: Ticket,
        action: Action | None,
        *,
        actual_tokens: float | None = None,
        completion_tokens: float | None = None,
        retry_after_s: float | None = None,
        rate_limited: bool = True,
    ) -> None:
        """Settle the reservation, adapt, free the slot. ``action`` None: no answer (cancel).

        ``rate_limited``: a WAIT was a 429 (too fast: the learned rate is cut)
        rather than a 503 or "overloaded" (too many at once: concurrency is cut).
        """
        now = self.clock()
        limiter = self.limiter(ticket.model)
        adaptive = self._adaptive.get(ticket.model)
        if action is Action.WAIT:
            # Rejected: the provider counted no tokens (it may have counted the request).
            limiter.settle(ticket.reservation, 0.0, now)
            self.cooldown.extend(
                DEFAULT_COOLDOWN_S if retry_after_s is None else retry_after_s, now
            )
            learned = adaptive is not None and adaptive.per_minute is not None
            # Once a rate is learned it answers 429s; halving concurrency as well
            # would cut twice for one signal and starve a high-latency endpoint.
            if self.aimd is not None and not (rate_limited and learned):
                self.aimd.on_overload(now)
            if adaptive is not None and rate_limited:
                adaptive.on_rejected(now)
        else:
            limiter.settle(ticket.reservation, actual_tokens, now)
            if action is not None and adaptive is not None:
                adaptive.on_accepted(now)
            if action is Action.OK and self.aimd is not None:
                self.aimd.on_success(now - ticket.sent_at, now)
            if completion_tokens is not None:
                self.completion_estimate(ticket.model).update(completion_tokens)
        self._free_slot()


def _switch_wait(activity: RequestMeter | None, old: str | None, new: str | None) -> str | None:
    if activity is not None and old != new:
        if old is not None:
            activity.end_wait(old)
        if new is not None:
            activity.begin_wait(new)
    return new
