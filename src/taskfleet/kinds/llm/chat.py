"""One chat completion inside a longer conversation: the agent kind's turns and reviews.

An llm task sends one request per attempt and leaves retries to the engine.
An agent's turn is many requests deep, so a passing 429 or 500 must not
throw the turn away: :func:`complete_chat` sends through the llm kind
(``LlmKind.send``: endpoint resolution, gate, classification, usage), waits
out rate-limit answers (the gate has already cooled the endpoint down for
their ``Retry-After``, so the next admission waits by itself) and retries
transient failures a few times with backoff. Past those bounds it raises the
``TaskError`` the engine understands, so the attempt is retried as an llm
task's would be.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from taskfleet.errors import FatalError, RateLimited, RetryableError
from taskfleet.kinds.base import RunContext
from taskfleet.kinds.llm import LlmKind
from taskfleet.kinds.llm.request import CHAT
from taskfleet.model import ErrorClass, Outcome

__all__ = ["MAX_TRANSIENT_RETRIES", "MAX_WAITS", "ChatReply", "add_usage", "complete_chat"]

# Rate-limit answers waited out in one request before the attempt gives up
# (the engine then waits again without spending a retry).
MAX_WAITS = 30
# Transient failures (5xx, timeouts, dropped connections) retried in place.
MAX_TRANSIENT_RETRIES = 4
MAX_RETRY_DELAY_S = 30.0

OnEvent = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class ChatReply:
    """The assistant's message and what getting it cost (every request it took)."""

    message: Mapping[str, Any]  # role, content, tool_calls
    finish_reason: str | None
    usage: dict[str, float] = field(default_factory=dict)


def add_usage(total: dict[str, float], usage: Mapping[str, float] | None) -> None:
    """Add one request's token counts and cost into ``total``."""
    for key, value in (usage or {}).items():
        total[key] = total.get(key, 0.0) + value


def shared_llm_kind() -> LlmKind:
    """The process's llm kind: its gates are the ones llm tasks pass, so limits are shared."""
    from taskfleet.kinds import get_kind

    kind = get_kind("llm")
    if not isinstance(kind, LlmKind):
        raise FatalError(f"the registered 'llm' kind is {type(kind).__name__}, not LlmKind")
    return kind


async def complete_chat(
    body: Mapping[str, Any],
    ctx: RunContext,
    *,
    endpoint: str | None = None,
    llm: LlmKind | None = None,
    on_event: OnEvent | None = None,
    retry_delay_s: float = 1.0,
) -> ChatReply:
    """Send ``body`` to ``/chat/completions`` until it is answered; raise TaskError past the bounds.

    ``on_event`` hears of every wait and retry (the agent's transcript).
    """
    kind = llm if llm is not None else shared_llm_kind()
    spec: dict[str, Any] = {"path": CHAT, "body": body}
    if endpoint is not None:
        spec["endpoint"] = endpoint
    usage: dict[str, float] = {}
    patience = _Patience(retry_delay_s)
    while True:
        try:
            outcome = await kind.send(spec, ctx)
        except RateLimited:
            raise
        except RetryableError as exc:  # no answer at all: a timeout or a dropped connection
            outcome = Outcome.failure(str(exc))
        add_usage(usage, outcome.usage)
        if outcome.ok:
            return _reply(outcome.result, usage)
        delay_s = patience.delay_after(outcome)
        if on_event is not None:
            kind_of_wait = "rate_limited" if outcome.error_class is ErrorClass.WAIT else "retry"
            on_event({"type": "llm_" + kind_of_wait, "error": outcome.error, "delay_s": delay_s})
        if delay_s > 0:
            await asyncio.sleep(delay_s)


class _Patience:
    """The waits and retries one request has had; past their bounds, the TaskError to raise."""

    def __init__(self, retry_delay_s: float) -> None:
        self.retry_delay_s = retry_delay_s
        self.waits = 0
        self.failures = 0

    def delay_after(self, outcome: Outcome) -> float:
        """Seconds to sleep before the request goes again; raise if it must not."""
        if outcome.error_class is ErrorClass.FATAL:
            raise FatalError(outcome.error or "the endpoint refused the request")
        if outcome.error_class is ErrorClass.WAIT:
            self.waits += 1
            if self.waits > MAX_WAITS:
                raise RateLimited(str(outcome.error), retry_after_s=outcome.retry_after_s)
            return 0.0  # the gate's cooldown holds the next admission back
        self.failures += 1
        if self.failures > MAX_TRANSIENT_RETRIES:
            raise RetryableError(str(outcome.error))
        return _backoff_s(self.failures, self.retry_delay_s, outcome.retry_after_s)


def _backoff_s(failures: int, base_s: float, retry_after_s: float | None) -> float:
    """``Retry-After`` when the endpoint gave one, else exponential backoff with jitter."""
    if retry_after_s is not None:
        return retry_after_s
    ceiling = min(MAX_RETRY_DELAY_S, base_s * 2 ** (failures - 1))
    return random.uniform(ceiling / 2, ceiling)


def _reply(result: Any, usage: dict[str, float]) -> ChatReply:
    """The first choice's message of a chat completion; a malformed answer is retryable."""
    choices = result.get("choices") if isinstance(result, Mapping) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, Mapping) else None
    if not isinstance(message, Mapping):
        raise RetryableError(f"the endpoint's answer has no message: {str(result)[:300]}")
    assert isinstance(choice, Mapping)
    reason = choice.get("finish_reason")
    return ChatReply(message, reason if isinstance(reason, str) else None, usage)
