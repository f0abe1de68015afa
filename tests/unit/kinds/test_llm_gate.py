"""The async gate in front of an endpoint: slots, FIFO turns, cooldown, settle."""

from __future__ import annotations

import asyncio

import pytest

from taskfleet.kinds.llm.endpoints import Endpoint
from taskfleet.kinds.llm.errors import Action
from taskfleet.kinds.llm.gate import EndpointGate
from taskfleet.limits.rate_limits import TooLarge
from taskfleet.limits.request_meter import RequestMeter


async def test_a_slot_frees_for_the_next_request() -> None:
    gate = EndpointGate(Endpoint("e", "http://x/v1", requests_per_minute=6000, max_concurrency=1))
    activity = RequestMeter()
    first = await gate.admit("m", 10, activity)
    second = asyncio.ensure_future(gate.admit("m", 10, activity))
    await asyncio.sleep(0.05)
    assert not second.done() and activity.waiting["concurrency"] == 1
    gate.finish(first, Action.OK, actual_tokens=5)
    ticket = await asyncio.wait_for(second, 5)
    gate.finish(ticket, Action.OK)
    assert gate.in_flight == 0 and not activity.waiting


async def test_a_cooldown_holds_every_request_of_the_endpoint() -> None:
    gate = EndpointGate(Endpoint("e", "http://x/v1", requests_per_minute=60_000))
    ticket = await gate.admit("m", 1, None)
    gate.finish(ticket, Action.WAIT, retry_after_s=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    other_model = await gate.admit("other", 1, None)
    assert loop.time() - started >= 0.25
    gate.finish(other_model, Action.OK)


async def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    gate = EndpointGate(Endpoint("e", "http://x/v1", requests_per_minute=60, max_concurrency=4))
    first = await gate.admit("m", 1, None)  # the one request the bucket starts with
    waiting = asyncio.ensure_future(gate.admit("m", 1, None))  # waits ~1 s for rpm
    await asyncio.sleep(0.05)
    assert gate.in_flight == 2
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert gate.in_flight == 1
    gate.finish(first, None)
    assert gate.in_flight == 0


async def test_too_large_fails_before_waiting_and_learning_from_answers() -> None:
    gate = EndpointGate(Endpoint("e", "http://x/v1", tokens_per_minute=100))
    with pytest.raises(TooLarge):
        await gate.admit("m", 101, None)
    assert gate.in_flight == 0
    unstated = EndpointGate(Endpoint("e", "http://x/v1", max_concurrency=8))
    assert unstated.aimd is not None and unstated.aimd.limit == 2
    ticket = await unstated.admit("m", 1, None)
    unstated.finish(ticket, Action.OK, completion_tokens=42)
    assert unstated.aimd.limit == 3
    assert unstated.completion_estimate("m").value() == 42


async def test_a_waiter_woken_then_cancelled_passes_the_slot_on() -> None:
    gate = EndpointGate(Endpoint("e", "http://x/v1", requests_per_minute=60_000, max_concurrency=1))
    first = await gate.admit("m", 1, None)
    second = asyncio.ensure_future(gate.admit("m", 1, None))
    third = asyncio.ensure_future(gate.admit("m", 1, None))
    await asyncio.sleep(0.01)
    gate.finish(first, Action.OK)  # wakes `second`...
    second.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await second
    ticket = await asyncio.wait_for(third, 5)
    gate.finish(ticket, Action.OK)
    assert gate.in_flight == 0


async def test_429_cuts_the_learned_rate_503_cuts_concurrency() -> None:
    gate = EndpointGate(Endpoint("e", "http://x/v1", max_concurrency=32))
    assert gate.aimd is not None
    for _ in range(6):  # slow start: 2 -> 8
        ticket = await gate.admit("m", 1, None)
        gate.finish(ticket, Action.OK)
    assert gate.aimd.limit == 8
    ticket = await gate.admit("m", 1, None)
    gate.finish(ticket, Action.WAIT, retry_after_s=0.0, rate_limited=True)
    assert gate.aimd.limit == 4  # the first 429: nothing learned yet, concurrency halves
    assert gate._adaptive["m"].per_minute is not None
    gate.aimd._last_cut_at = float("-inf")  # past the cut interval
    ticket = await gate.admit("m", 1, None)
    gate.finish(ticket, Action.WAIT, retry_after_s=0.0, rate_limited=True)
    assert gate.aimd.limit == 4  # later 429s cut the rate only
    ticket = await gate.admit("m", 1, None)
    gate.finish(ticket, Action.WAIT, retry_after_s=0.0, rate_limited=False)  # a 503
    assert gate.aimd.limit == 2
