"""The rate limits an endpoint states in its answers' ``x-ratelimit-*`` headers.

OpenAI, Azure OpenAI, Groq, Together and others send
``x-ratelimit-limit-requests`` and ``x-ratelimit-limit-tokens`` with their
answers. OpenAI's are per minute; some providers put requests per *day*
under the same name (Groq), so a limit counts as per minute only when its
``x-ratelimit-reset-*`` says the budget refills within a minute. A limit
written in the endpoint's config wins over a stated one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["StatedLimits", "parse_duration", "stated_limits"]

_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|h|m|s))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


@dataclass(frozen=True, slots=True)
class StatedLimits:
    """Per-minute limits read from one answer; None where it stated none."""

    requests_per_minute: float | None
    tokens_per_minute: float | None


def parse_duration(text: str | None) -> float | None:
    """Seconds in ``6m0s``, ``1.5s``, ``20ms`` or ``1h2m3s``; None if it is not one."""
    if not text or not _DURATION.fullmatch(text.strip()):
        return None
    return sum(float(amount) * _UNIT_S[unit] for amount, unit in _PART.findall(text))


def stated_limits(headers: Mapping[str, str]) -> StatedLimits | None:
    """The per-minute limits ``headers`` state (looked up case-insensitively), or None."""
    requests = _per_minute(headers, "requests")
    tokens = _per_minute(headers, "tokens")
    if requests is None and tokens is None:
        return None
    return StatedLimits(requests, tokens)


def _per_minute(headers: Mapping[str, str], what: str) -> float | None:
    try:
        limit = float(headers.get(f"x-ratelimit-limit-{what}", ""))
    except ValueError:
        return None
    if not math.isfinite(limit) or limit <= 0:
        return None
    reset_s = parse_duration(headers.get(f"x-ratelimit-reset-{what}"))
    if reset_s is not None and reset_s > 60.0:
        return None  # a window longer than a minute: not a per-minute limit
    return limit
