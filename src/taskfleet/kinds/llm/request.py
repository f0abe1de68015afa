"""The HTTP request of an llm task, from a plain task or an OpenAI Batch API line.

``parse_llm_spec`` normalises both forms to one stored spec::

    {"path": "/chat/completions", "body": {...}, "endpoint": "local", "cache": true}

``path`` is relative to the endpoint's ``base_url`` (which ends in ``/v1``),
``body`` is exactly what is POSTed, so a stored job replays the same request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from taskfleet.errors import FieldError

__all__ = ["BATCH_LINE_FIELDS", "PATHS", "cache_key", "parse_llm_spec"]

# Batch API ``url`` -> path under base_url.
PATHS: Mapping[str, str] = {
    "/v1/chat/completions": "/chat/completions",
    "/v1/embeddings": "/embeddings",
    "/v1/completions": "/completions",
}
CHAT = "/chat/completions"
# Task fields that steer taskfleet and are not sent to the endpoint.
_CONTROL_FIELDS = frozenset({"endpoint", "cache", "url", "method", "body"})
# The fields of an OpenAI Batch API line (``custom_id`` becomes the task's id).
BATCH_LINE_FIELDS = _CONTROL_FIELDS | {"custom_id"}


def parse_llm_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The normalised spec; raise FieldError naming the bad field."""
    if "body" in spec:
        path, body = _batch_line(spec)
    else:
        path, body = _plain_task(spec)
    if body.get("stream"):
        # A stream is a text/event-stream of deltas; the result, usage and the
        # openai-batch output all need the one JSON answer.
        raise FieldError("stream", "streaming is not supported: leave 'stream' out")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        field = "body" if "body" in spec else "model"
        raise FieldError(field, "needs a non-empty string 'model'")
    parsed: dict[str, Any] = {"path": path, "body": body}
    endpoint = spec.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str) or not endpoint:
            raise FieldError("endpoint", "expected the name of an endpoint")
        parsed["endpoint"] = endpoint
    cache = spec.get("cache", False)
    if not isinstance(cache, bool):
        raise FieldError("cache", "expected true or false")
    if cache:
        parsed["cache"] = True
    return parsed


def _path_of(url: Any, field: str) -> str:
    path = PATHS.get(url) if isinstance(url, str) else None
    if path is None:
        raise FieldError(field, f"expected one of {', '.join(PATHS)}, got {json.dumps(url)}")
    return path


def _batch_line(spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    method = spec.get("method", "POST")
    if method != "POST":
        raise FieldError("method", f'expected "POST", got {json.dumps(method)}')
    path = _path_of(spec.get("url", "/v1/chat/completions"), "url")
    body = spec["body"]
    if not isinstance(body, dict):
        raise FieldError("body", "expected a JSON object (the request body)")
    extra = sorted(set(spec) - _CONTROL_FIELDS)
    if extra:
        raise FieldError(extra[0], "a batch line takes its parameters inside 'body'")
    _check_chat_body(path, body, "body")
    return path, dict(body)


def _plain_task(spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    path = _path_of(spec["url"], "url") if "url" in spec else CHAT
    body = {key: value for key, value in spec.items() if key not in _CONTROL_FIELDS}
    if "prompt" in body and path == CHAT:
        prompt = body.pop("prompt")
        if "messages" in body:
            raise FieldError("prompt", "give either 'prompt' or 'messages', not both")
        if not isinstance(prompt, str):
            raise FieldError("prompt", "expected a string")
        body["messages"] = [{"role": "user", "content": prompt}]
    _check_chat_body(path, body, "messages")
    return path, body


def _check_chat_body(path: str, body: Mapping[str, Any], field: str) -> None:
    if path != CHAT:
        return
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise FieldError(field, "needs 'messages', a non-empty list (or give 'prompt')")
    if not all(isinstance(m, dict) and "role" in m for m in messages):
        raise FieldError(field, "each message must be an object with a 'role'")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise FieldError("max_tokens", "expected an integer >= 1")


def cache_key(base_url: str, path: str, body: Mapping[str, Any]) -> str:
    """A key naming one exact request to one server (the body's key order does not matter)."""
    text = json.dumps([base_url, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
