"""The llm kind's pure parts: request building, error classes, Retry-After, tokens, endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from taskfleet.errors import FieldError
from taskfleet.kinds.llm import LlmKind
from taskfleet.kinds.llm.endpoints import DEFAULT_BASE_URL, resolve_endpoint
from taskfleet.kinds.llm.errors import Action, classify, error_text, parse_retry_after
from taskfleet.kinds.llm.request import cache_key
from taskfleet.kinds.llm.tokens import (
    CompletionEstimate,
    estimate_prompt_tokens,
    estimate_tokens,
)

parse = LlmKind(env={}).parse


# -- requests ------------------------------------------------------------------


def test_a_prompt_becomes_one_user_message_and_other_parameters_pass_through() -> None:
    spec = parse({"model": "m", "prompt": "hi", "temperature": 0.2, "max_tokens": 5})
    assert spec == {
        "path": "/chat/completions",
        "body": {
            "model": "m",
            "temperature": 0.2,
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}],
        },
    }


def test_messages_endpoint_and_cache() -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "x"}]
    spec = parse({"model": "m", "messages": messages, "endpoint": "local", "cache": True})
    assert spec == {
        "path": "/chat/completions",
        "body": {"model": "m", "messages": messages},
        "endpoint": "local",
        "cache": True,
    }


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/v1/chat/completions", "/chat/completions"),
        ("/v1/embeddings", "/embeddings"),
        ("/v1/completions", "/completions"),
    ],
)
def test_batch_lines_keep_their_body_and_path(url: str, path: str) -> None:
    body: dict[str, Any] = {"model": "m", "input": "x"}
    if path == "/chat/completions":
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert parse({"method": "POST", "url": url, "body": body}) == {"path": path, "body": body}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"prompt": "x"}, "model"),
        ({"model": "", "prompt": "x"}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": ["hi"]}, "messages"),
        ({"model": "m", "prompt": 3}, "prompt"),
        ({"model": "m", "prompt": "a", "messages": [{"role": "user"}]}, "prompt"),
        ({"model": "m", "prompt": "a", "max_tokens": 0}, "max_tokens"),
        ({"model": "m", "prompt": "a", "endpoint": 3}, "endpoint"),
        ({"model": "m", "prompt": "a", "cache": "yes"}, "cache"),
        ({"model": "m", "prompt": "a", "url": "/v1/images"}, "url"),
        ({"method": "GET", "url": "/v1/chat/completions", "body": {}}, "method"),
        ({"method": "POST", "url": "/v2/x", "body": {"model": "m"}}, "url"),
        ({"method": "POST", "url": "/v1/embeddings", "body": []}, "body"),
        ({"method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}, "body"),
        ({"url": "/v1/embeddings", "body": {"model": "m"}, "temperature": 1}, "temperature"),
        ({"model": "m", "prompt": "a", "stream": True}, "stream"),
    ],
)
def test_bad_requests_name_their_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse(spec)
    assert caught.value.field == field


def test_cache_key_ignores_key_order_but_not_the_server() -> None:
    a = cache_key("http://x/v1", "/chat/completions", {"model": "m", "n": 1})
    assert a == cache_key("http://x/v1", "/chat/completions", {"n": 1, "model": "m"})
    assert a != cache_key("http://y/v1", "/chat/completions", {"model": "m", "n": 1})
    assert a != cache_key("http://x/v1", "/chat/completions", {"model": "m", "n": 2})


# -- errors ----------------------------------------------------------------------


def _error(code: str | None = None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": "boom", "type": kind, "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "action"),
    [
        (200, {}, Action.OK),
        (429, _error("rate_limit_exceeded", "requests"), Action.WAIT),
        (429, _error("insufficient_quota", "insufficient_quota"), Action.FATAL),
        (429, _error(None, "insufficient_quota"), Action.FATAL),
        (503, _error(), Action.WAIT),
        (529, _error(None, "overloaded_error"), Action.WAIT),
        (500, _error(None, "overloaded_error"), Action.WAIT),
        (500, _error(None, "server_error"), Action.RETRY),
        (502, "<html>bad gateway</html>", Action.RETRY),
        (504, None, Action.RETRY),
        (408, None, Action.RETRY),
        (409, None, Action.RETRY),
        (400, _error(), Action.FATAL),
        (400, _error("context_length_exceeded"), Action.FATAL),
        (401, _error("invalid_api_key"), Action.AUTH),
        (403, _error(), Action.AUTH),
        (404, _error("model_not_found"), Action.FATAL),
        (422, None, Action.FATAL),
    ],
)
def test_classification_table(status: int, body: Any, action: Action) -> None:
    assert classify(status, httpx.Headers(), body, 0.0).verdict is action


def test_error_text_names_status_code_and_message() -> None:
    assert error_text(401, _error("invalid_api_key")) == "HTTP 401 invalid_api_key: boom"
    assert error_text(502, "bad gateway") == "HTTP 502: bad gateway"


def test_retry_after_ms_wins_over_retry_after() -> None:
    headers = httpx.Headers({"Retry-After": "3", "retry-after-ms": "250"})
    assert parse_retry_after(headers, 0.0) == pytest.approx(0.25)
    assert classify(429, headers, _error(), 0.0).retry_after_s == pytest.approx(0.25)


def test_retry_after_seconds_date_and_garbage() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After": "7"}), 0.0) == 7.0
    assert parse_retry_after(httpx.Headers({"retry-after": "1.5"}), 0.0) == 1.5
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)
    headers = httpx.Headers({"Retry-After": later})
    assert parse_retry_after(headers, now.timestamp()) == pytest.approx(30.0)
    past = format_datetime(datetime(2025, 1, 1, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": past}), now.timestamp()) == 0.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"}), 0.0) is None
    assert parse_retry_after(httpx.Headers({"Retry-After": "-4"}), 0.0) == 0.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "99999999"}), 0.0) == 3600.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "x", "retry-after": "2"}), 0) == 2.0
    assert parse_retry_after(httpx.Headers(), 0.0) is None


# -- tokens ------------------------------------------------------------------------


def test_prompt_estimate_is_about_four_characters_a_token_plus_framing() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}]}
    assert estimate_prompt_tokens(body) == 100 + 4 + 3
    assert estimate_prompt_tokens({"input": ["abcd", "abcdefgh"]}) == 3
    assert estimate_prompt_tokens({"prompt": "abcdefgh"}) == 2


def test_an_image_counts_as_an_image_not_as_its_base64_text() -> None:
    photo = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10**6}}
    content = [{"type": "text", "text": "x" * 40}, photo]
    body = {"messages": [{"role": "user", "content": content}]}
    assert estimate_prompt_tokens(body) == 10 + 765 + 4 + 3


def test_completion_estimate_uses_max_tokens_else_what_was_learned() -> None:
    learned = CompletionEstimate()
    body = {"messages": [{"role": "user", "content": "x" * 40}]}
    assert estimate_tokens({**body, "max_tokens": 50}, learned) == 17 + 50
    assert estimate_tokens({**body, "max_completion_tokens": 9}, learned) == 17 + 9
    assert estimate_tokens(body, learned) == 17 + 256
    for _ in range(50):
        learned.update(100)
    assert estimate_tokens(body, learned) == pytest.approx(17 + 100)
    assert estimate_tokens({"model": "e", "input": "abcd"}, learned) == 1  # embeddings


# -- endpoints -------------------------------------------------------------------------


def test_default_endpoint_follows_the_openai_sdk() -> None:
    endpoint = resolve_endpoint(None, {}, {})
    assert (endpoint.base_url, endpoint.api_key_env) == (DEFAULT_BASE_URL, "OPENAI_API_KEY")
    env = {"OPENAI_BASE_URL": "http://h:1/v1/", "OPENAI_API_KEY": "sk-9"}
    endpoint = resolve_endpoint(None, {}, env)
    assert endpoint.base_url == "http://h:1/v1"
    assert endpoint.request_headers(env) == {"Authorization": "Bearer sk-9"}
    assert not endpoint.states_limits


def test_named_endpoint_and_prices() -> None:
    tables = {
        "local": {
            "base_url": "http://127.0.0.1:11434/v1",
            "requests_per_minute": 600.0,
            "headers": {"X-A": "1"},
            "input_cost_per_million": 2.0,
            "output_cost_per_million": 10.0,
        },
        "default": {"base_url": "http://d/v1", "api_key_env": "D_KEY"},
    }
    local = resolve_endpoint("local", tables, {"OPENAI_API_KEY": "not-sent"})
    assert local.states_limits and local.api_key_env is None
    assert local.request_headers({"OPENAI_API_KEY": "k"}) == {"X-A": "1"}
    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    assert local.usage_totals(usage) == {
        "prompt_tokens": 1000.0,
        "completion_tokens": 100.0,
        "total_tokens": 1100.0,
        "cost": pytest.approx(0.003),
    }
    assert resolve_endpoint(None, tables, {}).base_url == "http://d/v1"
    with pytest.raises(KeyError):
        resolve_endpoint("nope", tables, {})


def test_the_task_file_checks_named_endpoints_and_reads_batch_lines() -> None:
    from taskfleet.errors import TaskfileError
    from taskfleet.input.taskfile import read_all

    task = {"model": "m", "prompt": "x", "endpoint": "a"}
    with pytest.raises(TaskfileError) as caught:
        read_all([{"model": "m", "prompt": "y"}, task], endpoints={"b": {}})
    issue = caught.value.issues[0]
    assert (issue.line, issue.field) == (2, "endpoint")
    assert 'unknown endpoint "a" (known: b)' in issue.message
    assert read_all([task], endpoints={"a": {}})[0].spec["endpoint"] == "a"
    line = {"custom_id": "c-1", "method": "POST", "url": "/v1/embeddings",
            "body": {"model": "e", "input": "hi"}}  # fmt: skip
    [spec] = read_all([line])
    assert (spec.id, spec.kind, spec.spec["path"]) == ("c-1", "llm", "/embeddings")
