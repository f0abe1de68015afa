"""The ``llm`` kind: one request to an OpenAI-compatible endpoint per attempt.

Parse: a plain task (``model`` + ``prompt`` or ``messages`` + any other
parameters) or an OpenAI Batch API line becomes ``{path, body, endpoint,
cache}`` (``request.py``). Run: resolve the endpoint (``endpoints.py``),
answer from the response cache if asked, wait at the endpoint's gate
(``gate.py``: concurrency, rate limits, cooldown), send one request with no
retries of the HTTP client's own (``client.py``), classify the answer
(``errors.py``) and return an Outcome whose ``usage`` the runner adds up.

The result of a success is the response body plus ``_response`` (status
code and ``x-request-id``) for ``results --format openai-batch``; the plain
result formats drop ``_response``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from taskfleet.errors import FatalError, RetryableError
from taskfleet.kinds.base import RunContext
from taskfleet.kinds.llm.client import ClientPool
from taskfleet.kinds.llm.endpoints import Endpoint, resolve_endpoint
from taskfleet.kinds.llm.errors import Action, classify, error_text
from taskfleet.kinds.llm.gate import EndpointGate, Ticket
from taskfleet.kinds.llm.request import cache_key, parse_llm_spec
from taskfleet.kinds.llm.stated_limits import stated_limits
from taskfleet.kinds.llm.tokens import estimate_tokens
from taskfleet.limits.rate_limits import TooLarge
from taskfleet.model import RESPONSE_META, ErrorClass, Outcome

if TYPE_CHECKING:
    import asyncio as _asyncio

    import httpx

__all__ = ["LlmKind"]

_ERROR_CLASS = {
    Action.WAIT: ErrorClass.WAIT,
    Action.RETRY: ErrorClass.RETRYABLE,
    Action.FATAL: ErrorClass.FATAL,
    Action.AUTH: ErrorClass.FATAL,
}


class LlmKind:
    """Chat completions, completions and embeddings against OpenAI-compatible servers."""

    name = "llm"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        # API keys are read when a request is sent, from this process's environment.
        self._env = os.environ if env is None else env
        self._clients = ClientPool()
        self._gates: dict[tuple[Any, ...], EndpointGate] = {}
        self._loop: _asyncio.AbstractEventLoop | None = None

    async def aclose(self) -> None:
        """Close this loop's HTTP clients (called by ``kinds.close_kinds``)."""
        await self._clients.aclose()

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Normalise a plain task or a batch line to ``{path, body, endpoint, cache}``."""
        return parse_llm_spec(spec)

    def gate(self, endpoint: Endpoint) -> EndpointGate:
        """This process's gate for ``endpoint`` (asyncio locks belong to one loop)."""
        import asyncio

        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._gates = loop, {}
        key = (
            endpoint.name,
            endpoint.base_url,
            endpoint.requests_per_minute,
            endpoint.tokens_per_minute,
            endpoint.max_concurrency,
        )
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = EndpointGate(endpoint)
        return gate

    async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        """Send the request once; classify the answer."""
        import asyncio

        # The runner starts attempts eagerly, inside its own asyncio Task, until
        # their first suspension; httpcore's locks (anyio) take the current Task
        # as their owner, so two requests started that way would look like one
        # Task taking a held lock. Yield once: the attempt goes on in its own Task.
        await asyncio.sleep(0)
        endpoint = self._endpoint(spec, ctx)
        key = None
        if ctx.response_cache is not None and (spec.get("cache") or ctx.cache_all):
            key = cache_key(endpoint.base_url, spec["path"], spec["body"])
            cached = await ctx.response_cache.get(key)
            if cached is not None:
                meta = {"status_code": 200, "request_id": None, "cached": True}
                return Outcome.success({**cached, RESPONSE_META: meta}, usage={"cache_hits": 1.0})
        outcome, body = await self._exchange(endpoint, spec, ctx)
        if key is not None and outcome.ok and ctx.response_cache is not None:
            await ctx.response_cache.put(key, body)
        return outcome

    async def send(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        """One request of a normalised spec through its endpoint's gate, classified (no cache).

        For callers that hold a conversation of many requests (the agent kind's
        turns and reviews): the same endpoint resolution, gate, classification
        and usage as an llm task's attempt.
        """
        outcome, _ = await self._exchange(self._endpoint(spec, ctx), spec, ctx)
        return outcome

    def _endpoint(self, spec: Mapping[str, Any], ctx: RunContext) -> Endpoint:
        try:
            return resolve_endpoint(spec.get("endpoint"), ctx.endpoints, self._env)
        except KeyError:
            raise FatalError(f"unknown endpoint '{spec.get('endpoint')}'") from None

    async def _exchange(
        self, endpoint: Endpoint, spec: Mapping[str, Any], ctx: RunContext
    ) -> tuple[Outcome, Any]:
        """The classified outcome of one request, and the body the endpoint answered."""
        gate = self.gate(endpoint)
        # The client (and the first import of httpx, ~0.1 s of blocked loop) before
        # admission: a request must go out as soon as its reservation is made, or
        # the requests reserved during the stall all arrive together and one
        # lands in the same provider window as the previous second's share.
        client = self._clients.get(endpoint)
        ticket = await self._admit(gate, spec["body"], ctx)
        answer = await self._send(client, endpoint, gate, ticket, spec)
        return self._outcome(endpoint, gate, ticket, answer, ctx), answer.body

    def _dead_key(self, gate: EndpointGate, ctx: RunContext) -> tuple[str, str]:
        headers = gate.endpoint.request_headers(self._env)
        fingerprint = hashlib.sha256(repr(sorted(headers.items())).encode()).hexdigest()
        return ctx.job_id, fingerprint

    async def _admit(self, gate: EndpointGate, body: Mapping[str, Any], ctx: RunContext) -> Ticket:
        dead_key = self._dead_key(gate, ctx)
        _raise_if_dead(gate, dead_key)
        model = str(body["model"])
        estimate = estimate_tokens(body, gate.completion_estimate(model))
        try:
            ticket = await gate.admit(model, estimate, ctx.activity)
        except TooLarge as exc:
            raise FatalError(str(exc)) from None
        try:
            _raise_if_dead(gate, dead_key)  # it may have died while this one waited
        except FatalError:
            gate.finish(ticket, None, actual_tokens=0.0)
            raise
        return ticket

    async def _send(
        self,
        client: httpx.AsyncClient,
        endpoint: Endpoint,
        gate: EndpointGate,
        ticket: Ticket,
        spec: Mapping[str, Any],
    ) -> _Answer:
        """The endpoint's answer (body as JSON, else text); transport errors are retryable."""
        import httpx

        try:
            response = await client.post(
                spec["path"], json=spec["body"], headers=endpoint.request_headers(self._env)
            )
        except httpx.TimeoutException as exc:
            gate.finish(ticket, Action.RETRY)
            raise RetryableError(f"{endpoint.name}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            gate.finish(ticket, Action.RETRY)
            raise RetryableError(f"{endpoint.name}: {type(exc).__name__}: {exc}") from None
        except BaseException:  # cancelled (timeout, Ctrl-C): no answer to learn from
            gate.finish(ticket, None)
            raise
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        return _Answer(response.status_code, response.headers, body)

    def _outcome(
        self,
        endpoint: Endpoint,
        gate: EndpointGate,
        ticket: Ticket,
        answer: _Answer,
        ctx: RunContext,
    ) -> Outcome:
        status, body = answer.status, answer.body
        verdict = classify(status, answer.headers, body, time.time())
        stated = stated_limits(answer.headers)
        if stated is not None:
            gate.learn_limits(ticket.model, stated)
        usage = body.get("usage") if isinstance(body, dict) else None
        totals = endpoint.usage_totals(usage) if isinstance(usage, dict) else None
        gate.finish(
            ticket,
            verdict.verdict,
            actual_tokens=None if totals is None else totals.get("total_tokens"),
            completion_tokens=None if totals is None else totals.get("completion_tokens", 0.0),
            retry_after_s=verdict.retry_after_s,
            rate_limited=status == 429,
        )
        if ctx.activity is not None:
            tokens = 0.0 if totals is None else totals.get("total_tokens", 0.0)
            ctx.activity.count_request(time.time(), tokens)
        meta = {"status_code": status, "request_id": answer.headers.get("x-request-id")}
        if verdict.verdict is Action.OK:
            result = {**body, RESPONSE_META: meta} if isinstance(body, dict) else body
            return Outcome.success(result, usage=totals)
        message = f"{endpoint.name}: {error_text(status, body)}"
        if verdict.verdict is Action.AUTH:
            gate.dead.setdefault(self._dead_key(gate, ctx), message)
        return Outcome.failure(
            message,
            result={RESPONSE_META: {**meta, "body": body}},
            error_class=_ERROR_CLASS[verdict.verdict],
            retry_after_s=verdict.retry_after_s,
            usage=totals,
        )


class _Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]  # case-insensitive (httpx.Headers)
    body: Any


def _raise_if_dead(gate: EndpointGate, key: tuple[str, str]) -> None:
    dead = gate.dead.get(key)
    if dead is not None:
        raise FatalError(dead)
