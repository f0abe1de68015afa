"""What an endpoint's answer means: success, wait, retry or give up.

The table (issue 3; SPEC section 1):

    200..299                               success
    429 insufficient_quota / billing       fatal: more requests only cost more
    429, 503, 529, "overloaded"            wait: Retry-After, endpoint cools down,
                                           no retry spent
    400 (also context length), 401, 403,
    404, 405, 413, 422, other 4xx          fatal; 401/403 stop the endpoint
    408, 409, 425                          retry with backoff (transient by definition)
    500, 502, 504, other 5xx               retry with backoff
    timeouts, connection errors            retry with backoff
"""

from __future__ import annotations

import email.utils
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Action", "Classified", "classify", "error_text", "parse_retry_after"]

MAX_RETRY_AFTER_S = 3600.0
_WAIT_STATUSES = frozenset({429, 503, 529})
_TRANSIENT_4XX = frozenset({408, 409, 425})
_AUTH_STATUSES = frozenset({401, 403})
_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"})


class Action(enum.StrEnum):
    OK = "ok"
    WAIT = "wait"
    RETRY = "retry"
    FATAL = "fatal"
    AUTH = "auth"  # fatal, and nothing more goes to this endpoint


@dataclass(frozen=True, slots=True)
class Classified:
    verdict: Action
    retry_after_s: float | None = None


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    ``retry-after-ms`` (OpenAI, Azure) is more precise and wins. ``headers``
    must look keys up case-insensitively (httpx.Headers does). Unparsable or
    absent: None. Capped at an hour so a broken header cannot park a job.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return _clamp(float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return _clamp(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return _clamp(when.timestamp() - now)


def _clamp(seconds: float) -> float | None:
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def error_fields(body: Any) -> tuple[str, str]:
    """(code or type, message) of an OpenAI-style error body; ("", "") if none."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return "", error
    if not isinstance(error, dict):
        return "", ""
    code = error.get("code") or error.get("type") or ""
    return str(code), str(error.get("message") or "")


def classify(status: int, headers: Mapping[str, str], body: Any, now: float) -> Classified:
    """The verdict on one HTTP answer (headers looked up case-insensitively)."""
    if 200 <= status < 300:
        return Classified(Action.OK)
    code, _ = error_fields(body)
    if code in _QUOTA_CODES or (isinstance(body, dict) and _type_of(body) in _QUOTA_CODES):
        return Classified(Action.FATAL)
    overloaded = "overloaded" in code or "overloaded" in _type_of(body)
    if status in _WAIT_STATUSES or overloaded:
        return Classified(Action.WAIT, parse_retry_after(headers, now))
    if status in _AUTH_STATUSES:
        return Classified(Action.AUTH)
    if status in _TRANSIENT_4XX or status >= 500:
        return Classified(Action.RETRY, parse_retry_after(headers, now))
    return Classified(Action.FATAL)


def _type_of(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("type") or "") if isinstance(error, dict) else ""


def error_text(status: int, body: Any) -> str:
    """``"HTTP 401 invalid_api_key: Incorrect API key provided"``."""
    code, message = error_fields(body)
    if not message:
        message = body if isinstance(body, str) else json.dumps(body)[:500]
    return f"HTTP {status} {code}: {message}" if code else f"HTTP {status}: {message}"
