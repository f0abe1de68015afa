"""A fake OpenAI-compatible server for tests and benchmarks: loopback, asyncio, no deps.

    with FakeOpenAI(limit_requests=20, limit_window_s=1.0, latency_s=0.05) as server:
        server.base_url        # "http://127.0.0.1:PORT/v1"
        server.stats()         # what it saw (also GET /stats)

Routes: ``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``;
``GET /v1/models``; ``GET /stats``; ``POST /reset`` (clear stats);
``POST /config`` (JSON: any of ``limit_requests``, ``limit_window_s``,
``latency_s``, ``api_key``, ``state_limits``); ``POST /script`` and
``GET /requests`` (scripted answers, below).

Scripted chat answers (``scripted_chat.py``): ``server.script(model,
[answers])`` makes a model answer with the given texts, tool calls or errors,
in order; ``server.requests(model)`` returns the bodies it received.

Like hosted providers it enforces a sliding-window request limit: a request
over the limit gets 429 with ``retry-after`` (whole seconds, rounded up) and
``retry-after-ms`` (exact), and is not counted in the window. Every answer
has an ``x-request-id`` header and realistic ``usage``. With
``state_limits=True`` every answer also states the limit as OpenAI does:
``x-ratelimit-limit-requests`` per minute (the window's limit scaled to a
minute), ``x-ratelimit-remaining-requests`` and ``x-ratelimit-reset-requests``.

Errors are injected by the prompt's text, so a test picks each task's fate:
``FAIL-500-ONCE`` (500 the first time this prompt is seen), ``FAIL-500``,
``FAIL-400``, ``FAIL-401``, ``FAIL-QUOTA`` (429 insufficient_quota),
``FAIL-CONTEXT`` (400 context_length_exceeded), ``FAIL-503-ONCE``.

Run standalone (for benchmarks in another process): ``python
tests/fakes/openai_server.py --limit-requests 20 --latency 0.05``; it prints
its base URL on the first line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import threading
import time
from collections import Counter, deque
from typing import Any

try:
    from fakes.failures import error_body, injected_failure
    from fakes.http_wire import read_request, write_response
    from fakes.scripted_chat import Answer, ChatScript, scripted_response
except ModuleNotFoundError:  # run as a script (benchmarks): this folder is sys.path[0]
    from failures import error_body, injected_failure  # type: ignore[no-redef]
    from http_wire import read_request, write_response  # type: ignore[no-redef]
    from scripted_chat import Answer, ChatScript, scripted_response  # type: ignore[no-redef]

__all__ = ["FakeOpenAI"]


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _prompt_text(path: str, body: dict[str, Any]) -> str:
    if path.endswith("/chat/completions"):
        messages = body.get("messages") or []
        return "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    value = body.get("prompt", body.get("input", ""))
    return value if isinstance(value, str) else json.dumps(value)


class FakeOpenAI:
    """The server; ``start()``/``stop()`` or a ``with`` block run it in a thread."""

    def __init__(
        self,
        *,
        limit_requests: int | None = None,
        limit_window_s: float = 1.0,
        state_limits: bool = False,
        latency_s: float = 0.0,
        completion_tokens: int = 10,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.limit_requests = limit_requests
        self.limit_window_s = limit_window_s
        self.state_limits = state_limits
        self.latency_s = latency_s
        self.completion_tokens = completion_tokens
        self.api_key = api_key
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._connections: set[asyncio.Task[Any]] = set()
        self.chat_script = ChatScript()
        self.reset()

    # -- lifecycle --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread = threading.Thread(target=self._serve_forever, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            done = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            done.result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve_forever(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, self.host, self.port)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    # -- what it saw -------------------------------------------------------------

    def script(self, model: str, answers: list[Answer]) -> None:
        """Answer ``model``'s chat completions with ``answers``, in order (then as usual)."""
        self.chat_script.add(model, answers)

    def requests(self, model: str) -> list[dict[str, Any]]:
        """The chat bodies a scripted ``model`` received, in order."""
        requests: list[dict[str, Any]] = self.chat_script.requests(model)
        return requests

    def reset(self) -> None:
        """Forget everything seen (the rate window and scripted models' requests too)."""
        self.chat_script.clear_requests()
        self._window: deque[float] = deque()
        self._seen: Counter[str] = Counter()  # prompt -> requests that reached the handler
        self._served: Counter[str] = Counter()  # prompt -> 200 answers
        self._statuses: Counter[int] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._first_at: float | None = None
        self._last_at: float | None = None
        self._request_ids = 0

    def stats(self) -> dict[str, Any]:
        """Counts of requests by status and by prompt, the peak concurrency, the span."""
        return {
            "requests": sum(self._statuses.values()),
            "statuses": {str(k): v for k, v in sorted(self._statuses.items())},
            "rejected_429": self._statuses.get(429, 0),
            "ok": self._statuses.get(200, 0),
            "by_prompt": dict(self._seen),
            "served_by_prompt": dict(self._served),
            "max_in_flight": self._max_in_flight,
            "first_at": self._first_at,
            "last_at": self._last_at,
        }

    # -- HTTP -------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                method, path, headers, body = request
                status, extra, payload = await self._route(method, path, headers, body)
                write_response(writer, status, extra, payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        if method == "GET" and path == "/stats":
            return 200, {}, self.stats()
        if method == "POST" and path == "/reset":
            self.reset()
            return 200, {}, {"ok": True}
        if method == "POST" and path == "/config":
            for key, value in json.loads(raw or b"{}").items():
                setattr(self, key, value)
            return 200, {}, {"ok": True}
        if method == "POST" and path == "/script":
            order = json.loads(raw or b"{}")
            self.script(str(order["model"]), list(order["answers"]))
            return 200, {}, {"ok": True}
        if method == "GET" and path == "/requests":
            return 200, {}, self.chat_script.requests()
        if method == "GET" and path == "/v1/models":
            return 200, {}, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
        if method == "POST" and path in (
            "/v1/chat/completions",
            "/v1/completions",
            "/v1/embeddings",
        ):
            return await self._api(path, headers, raw)
        return 404, {}, {"error": {"message": f"no route {method} {path}", "code": None}}

    async def _api(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        self._first_at = self._first_at or time.time()
        self._last_at = time.time()
        self._request_ids += 1
        number = self._request_ids
        extra = {"x-request-id": f"req_{number:06d}"}
        refused = self._refuse(headers, raw)
        extra |= self._stated_limits(time.monotonic())
        if refused is not None:
            status, more, payload = refused
            self._statuses[status] += 1
            return status, {**extra, **more}, payload
        body = json.loads(raw)
        prompt = _prompt_text(path, body)
        self._seen[prompt] += 1
        self._in_flight += 1
        self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            if self.latency_s > 0:
                await asyncio.sleep(self.latency_s)
            status, more, payload = self._respond(path, body, prompt, number)
        finally:
            self._in_flight -= 1
        self._statuses[status] += 1
        if status == 200:
            self._served[prompt] += 1
        return status, {**extra, **more}, payload

    def _respond(
        self, path: str, body: dict[str, Any], prompt: str, number: int
    ) -> tuple[int, dict[str, str], Any]:
        """The scripted answer of a scripted model's chat, else the usual one."""
        scripted = self.chat_script.take(body) if path.endswith("/chat/completions") else None
        if scripted is None:
            status, payload = self._answer(path, body, prompt, number)
            return status, {}, payload
        return scripted_response(
            scripted,
            model=str(body.get("model")),
            number=number,
            prompt_tokens=_tokens(prompt),
            completion_tokens=self.completion_tokens,
        )

    def _refuse(
        self, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any] | None:
        """A 429 (over the limit), 400 (not JSON) or 401 (wrong key) before any work."""
        limited = self._over_limit(time.monotonic())
        if limited is not None:
            message = "Rate limit reached for requests"
            return 429, limited, error_body(message, "requests", "rate_limit_exceeded")
        try:
            json.loads(raw)
        except ValueError:
            message = "We could not parse the JSON body"
            return 400, {}, error_body(message, "invalid_request_error", None)
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            message = "Incorrect API key provided"
            return 401, {}, error_body(message, "invalid_request_error", "invalid_api_key")
        return None

    def _over_limit(self, now: float) -> dict[str, str] | None:
        """429 headers when the sliding window is full, else None (and the request counts)."""
        if self.limit_requests is None:
            return None
        window = self._window
        while window and window[0] <= now - self.limit_window_s:
            window.popleft()
        if len(window) < self.limit_requests:
            window.append(now)
            return None
        wait_s = window[0] + self.limit_window_s - now
        return {
            "retry-after": str(max(1, math.ceil(wait_s))),
            "retry-after-ms": str(max(1, math.ceil(wait_s * 1000))),
        }

    def _stated_limits(self, now: float) -> dict[str, str]:
        """OpenAI's x-ratelimit-* headers for the request limit, when asked to state it."""
        if not self.state_limits or self.limit_requests is None:
            return {}
        window = self._window
        refill_s = window[0] + self.limit_window_s - now if window else 0.0
        per_minute = self.limit_requests * 60.0 / self.limit_window_s
        return {
            "x-ratelimit-limit-requests": str(round(per_minute)),
            "x-ratelimit-remaining-requests": str(max(self.limit_requests - len(window), 0)),
            "x-ratelimit-reset-requests": f"{max(refill_s, 0.0):.3f}s",
        }

    def _answer(self, path: str, body: dict[str, Any], prompt: str, number: int) -> tuple[int, Any]:
        failure = injected_failure(prompt, self._seen[prompt])
        if failure is not None:
            return failure
        prompt_tokens = _tokens(prompt)
        model = body.get("model", "fake-model")
        if path.endswith("/embeddings"):
            usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
            data = [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}]
            return 200, {"object": "list", "data": data, "model": model, "usage": usage}
        cap = body.get("max_completion_tokens", body.get("max_tokens"))
        completion = (
            min(self.completion_tokens, cap) if isinstance(cap, int) else self.completion_tokens
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        }
        text = f"echo: {prompt}"
        if path.endswith("/chat/completions"):
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": "stop"}
            kind = "text_completion"
        answer_id = f"chatcmpl-{number:06d}"
        return 200, {
            "id": answer_id,
            "object": kind,
            "model": model,
            "choices": [choice],
            "usage": usage,
        }


def main() -> None:
    """Serve until killed; print the base URL first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--limit-requests", type=int, default=None)
    parser.add_argument("--limit-window", type=float, default=1.0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeOpenAI(
        limit_requests=args.limit_requests,
        limit_window_s=args.limit_window,
        latency_s=args.latency,
        port=args.port,
    ).start()
    print(server.base_url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
