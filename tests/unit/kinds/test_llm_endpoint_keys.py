"""missing_key: which endpoints cannot work without an API key, and what the message says."""

from __future__ import annotations

from typing import Any

import pytest

from taskfleet.kinds.llm.endpoints import DEFAULT_BASE_URL, missing_key, resolve_endpoint


def reason(tables: dict[str, Any], env: dict[str, str], name: str | None = None) -> str | None:
    return missing_key(resolve_endpoint(name, tables, env), env)


def test_openai_without_its_key_says_where_and_how() -> None:
    message = reason({}, {})
    assert message is not None
    assert DEFAULT_BASE_URL in message
    assert "OPENAI_API_KEY is not set" in message
    assert "OPENAI_BASE_URL" in message and "[endpoints.default]" in message


@pytest.mark.parametrize(
    ("tables", "env"),
    [
        ({}, {"OPENAI_API_KEY": "sk"}),
        ({}, {"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}),
        ({"default": {"base_url": "http://127.0.0.1:11434/v1"}}, {}),
        # A local server with a key variable configured but unset may need none.
        ({"default": {"base_url": "http://127.0.0.1:11434/v1", "api_key_env": "OLLAMA"}}, {}),
    ],
)
def test_a_key_or_another_server_is_enough(tables: dict[str, Any], env: dict[str, str]) -> None:
    assert reason(tables, env) is None


def test_an_empty_key_is_no_key() -> None:
    assert reason({}, {"OPENAI_API_KEY": ""}) is not None


def test_openai_configured_by_hand_names_its_own_variable_or_its_lack() -> None:
    with_env = {"openai": {"base_url": DEFAULT_BASE_URL + "/", "api_key_env": "MINE"}}
    message = reason(with_env, {}, "openai")
    assert message is not None and "MINE is not set" in message
    assert reason(with_env, {"MINE": "sk"}, "openai") is None
    without_env = {"openai": {"base_url": DEFAULT_BASE_URL}}
    message = reason(without_env, {"OPENAI_API_KEY": "sk"}, "openai")
    assert message is not None and "[endpoints.openai] names no api_key_env" in message
