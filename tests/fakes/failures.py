"""Failures injected by the prompt's text, so a test picks each task's fate (see openai_server)."""

from __future__ import annotations

from typing import Any

__all__ = ["error_body", "injected_failure"]


def error_body(message: str, kind: str, code: str | None) -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def injected_failure(prompt: str, times_seen: int) -> tuple[int, Any] | None:
    """(status, body) of the failure the prompt asks for; None: answer normally."""
    if "FAIL-500-ONCE" in prompt and times_seen == 1:
        return 500, error_body("The server had an error", "server_error", None)
    if "FAIL-503-ONCE" in prompt and times_seen == 1:
        return 503, error_body("The engine is currently overloaded", "server_error", "overloaded")
    if "FAIL-500" in prompt and "FAIL-500-ONCE" not in prompt:
        return 500, error_body("The server had an error", "server_error", None)
    if "FAIL-400" in prompt:
        return 400, error_body("Invalid value for 'temperature'", "invalid_request_error", None)
    if "FAIL-401" in prompt:
        return 401, error_body(
            "Incorrect API key provided", "invalid_request_error", "invalid_api_key"
        )
    if "FAIL-QUOTA" in prompt:
        message = "You exceeded your current quota"
        return 429, error_body(message, "insufficient_quota", "insufficient_quota")
    if "FAIL-CONTEXT" in prompt:
        message = "This model's maximum context length is 8192 tokens"
        return 400, error_body(message, "invalid_request_error", "context_length_exceeded")
    return None
