"""Scripted chat answers for the fake OpenAI server: per model, served in order.

    server.script("coder", [
        tool_call("list_files", path="."),
        tool_calls(("read_file", {"path": "a.py"}), ("run_command", {"command": "ls"})),
        failure(429, retry_after_s=0.2),
        "All done.",                                   # plain text: no tool call
        answer("Done.", usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}),
    ])
    server.requests("coder")    # every chat body that model received, in order

A scripted model gets its answers in order, one per chat completion request;
once they are used up it gets the server's usual echo answer. The requests of
scripted models are kept (to check what the client sent back, such as tool
results); other models' are not, so benchmarks stay flat in memory.
Over HTTP: ``POST /script`` with ``{"model": ..., "answers": [...]}`` and
``GET /requests`` (``{model: [body, ...]}``).
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ChatScript", "answer", "failure", "scripted_response", "tool_call", "tool_calls"]

# One scripted answer: plain text, or an object made by the helpers below.
Answer = str | dict[str, Any]


def answer(content: str, *, usage: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A plain assistant message, optionally with the exact ``usage`` to report."""
    scripted: dict[str, Any] = {"content": content}
    if usage is not None:
        scripted["usage"] = dict(usage)
    return scripted


def tool_calls(
    *calls: tuple[str, Mapping[str, Any] | str],
    content: str | None = None,
    usage: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """An assistant message calling tools: (name, arguments) pairs; text arguments go as is."""
    scripted: dict[str, Any] = {
        "content": content,
        "tool_calls": [{"name": name, "arguments": arguments} for name, arguments in calls],
    }
    if usage is not None:
        scripted["usage"] = dict(usage)
    return scripted


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    """An assistant message with one tool call."""
    return tool_calls((name, arguments))


def failure(
    status: int,
    *,
    retry_after_s: float | None = None,
    message: str = "scripted failure",
    code: str | None = None,
) -> dict[str, Any]:
    """An error answer (429, 500, 400, ...), with ``retry-after`` headers when given."""
    return {"status": status, "retry_after_s": retry_after_s, "message": message, "code": code}


class ChatScript:
    """The answers still to serve and the requests received, by model (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[str, deque[Answer]] = {}
        self._requests: dict[str, list[dict[str, Any]]] = {}

    def add(self, model: str, answers: Iterable[Answer]) -> None:
        """Queue ``answers`` for ``model`` after any it still has."""
        with self._lock:
            self._answers.setdefault(model, deque()).extend(answers)
            self._requests.setdefault(model, [])

    def take(self, body: Mapping[str, Any]) -> Answer | None:
        """The next answer for this request's model (its request is kept); None if unscripted."""
        model = str(body.get("model"))
        with self._lock:
            if model not in self._answers:
                return None
            self._requests[model].append(json.loads(json.dumps(body)))
            queue = self._answers[model]
            return queue.popleft() if queue else None

    def requests(self, model: str | None = None) -> Any:
        """The bodies ``model`` received, in order; without a model, all by model."""
        with self._lock:
            if model is not None:
                return list(self._requests.get(model, []))
            return {name: list(bodies) for name, bodies in self._requests.items()}

    def clear_requests(self) -> None:
        with self._lock:
            for bodies in self._requests.values():
                bodies.clear()


def _error_answer(scripted: Mapping[str, Any]) -> tuple[int, dict[str, str], Any]:
    status = int(scripted["status"])
    headers: dict[str, str] = {}
    retry_after_s = scripted.get("retry_after_s")
    if retry_after_s is not None:
        headers["retry-after"] = str(max(1, math.ceil(retry_after_s)))
        headers["retry-after-ms"] = str(round(retry_after_s * 1000))
    error = {"message": scripted.get("message"), "type": "scripted", "code": scripted.get("code")}
    return status, headers, {"error": error}


def _message(scripted: Mapping[str, Any], number: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": scripted.get("content")}
    calls = scripted.get("tool_calls")
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{number:06d}_{index}",
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": call["arguments"]
                    if isinstance(call["arguments"], str)
                    else json.dumps(call["arguments"]),
                },
            }
            for index, call in enumerate(calls)
        ]
    return message


def scripted_response(
    scripted: Answer, *, model: str, number: int, prompt_tokens: int, completion_tokens: int
) -> tuple[int, dict[str, str], Any]:
    """(status, extra headers, body) of one scripted answer to a chat completion."""
    if isinstance(scripted, str):
        scripted = {"content": scripted}
    if "status" in scripted:
        return _error_answer(scripted)
    message = _message(scripted, number)
    usage = scripted.get("usage") or {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
    }
    body = {
        "id": f"chatcmpl-{number:06d}",
        "object": "chat.completion",
        "model": model,
        "choices": [choice],
        "usage": usage,
    }
    return 200, {}, body
