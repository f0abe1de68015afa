"""``[endpoints.NAME]`` tables: the keys an LLM endpoint takes, checked once.

Stdlib only: ``config`` imports this on every CLI call. The tables are kept
as plain dicts (they travel inside JobOptions to whichever worker runs the
job); only the *name* of the environment variable holding the API key is
ever stored, never the key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from taskfleet.errors import ConfigError

__all__ = ["DEFAULT_ENDPOINT", "ENDPOINT_KEYS", "check_endpoint_table"]

# The name of the endpoint a task without ``endpoint`` uses.
DEFAULT_ENDPOINT = "default"


def _text(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    raise ValueError("expected a non-empty string")


def _url(value: Any) -> str:
    text = _text(value)
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def _positive(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and math.isfinite(value) and value > 0:
        return value  # type: ignore[no-any-return]  # an int stays one: `config` shows 600
    raise ValueError(f"expected a number > 0, got {value!r}")


def _not_negative(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and math.isfinite(value) and value >= 0:
        return value  # type: ignore[no-any-return]
    raise ValueError(f"expected a number >= 0, got {value!r}")


def _count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"expected an integer >= 1, got {value!r}")


def _headers(value: Any) -> dict[str, str]:
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return dict(value)
    raise ValueError("expected a table of strings")


ENDPOINT_KEYS: Mapping[str, Callable[[Any], Any]] = {
    "base_url": _url,
    "api_key_env": _text,
    "requests_per_minute": _positive,
    "tokens_per_minute": _positive,
    "max_concurrency": _count,
    "headers": _headers,
    "timeout": _positive,  # seconds per HTTP request
    "input_cost_per_million": _not_negative,  # price of 1M prompt tokens
    "output_cost_per_million": _not_negative,  # price of 1M completion tokens
}


def check_endpoint_table(name: str, table: Any, where: str) -> dict[str, Any]:
    """The checked table of ``endpoints.NAME``; raise ConfigError naming the bad key."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: endpoints.{name} must be a table")
    checked: dict[str, Any] = {}
    for key, value in table.items():
        check = ENDPOINT_KEYS.get(key)
        if key == "api_key":
            # Tables are stored with the job: a key written here would be stored too.
            message = "secrets do not go in the config; name an environment variable in api_key_env"
            raise ConfigError(f"{where}: endpoints.{name}.{key}: {message}")
        if check is None:
            known = ", ".join(ENDPOINT_KEYS)
            raise ConfigError(f"{where}: endpoints.{name}.{key}: unknown key (known: {known})")
        try:
            checked[key] = check(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: endpoints.{name}.{key}: {exc}") from None
    return checked
