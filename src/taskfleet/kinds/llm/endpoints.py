"""Endpoint settings of an llm task, from the job's ``[endpoints.NAME]`` tables.

A task without ``endpoint`` uses ``[endpoints.default]`` when configured,
else what the official OpenAI SDK uses: ``OPENAI_BASE_URL`` (default
``https://api.openai.com/v1``) and the key in ``OPENAI_API_KEY``. The key is
read from the environment of the process that sends the request, at that
moment: it is never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taskfleet.config.endpoints import DEFAULT_ENDPOINT

__all__ = ["DEFAULT_BASE_URL", "Endpoint", "missing_key", "resolve_endpoint"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_MAX_CONCURRENCY = 64
DEFAULT_TIMEOUT_S = 600.0  # the OpenAI SDK's default; long completions take minutes


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how requests of one endpoint go."""

    name: str
    base_url: str
    api_key_env: str | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    input_cost_per_million: float | None = None
    output_cost_per_million: float | None = None

    @property
    def states_limits(self) -> bool:
        """Whether its limits are configured (else concurrency and rate are learned)."""
        return self.requests_per_minute is not None or self.tokens_per_minute is not None

    def request_headers(self, env: Mapping[str, str]) -> dict[str, str]:
        """Headers of every request: the configured ones and the API key, if set."""
        headers = dict(self.headers)
        key = env.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def usage_totals(self, usage: Mapping[str, Any]) -> dict[str, float]:
        """Token counts of one response's ``usage``, plus ``cost`` when prices are set."""
        totals: dict[str, float] = {}
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            value = usage.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = float(value)
        if self.input_cost_per_million is not None or self.output_cost_per_million is not None:
            totals["cost"] = (
                totals.get("prompt_tokens", 0.0) * (self.input_cost_per_million or 0.0)
                + totals.get("completion_tokens", 0.0) * (self.output_cost_per_million or 0.0)
            ) / 1_000_000
        return totals


def resolve_endpoint(
    name: str | None, tables: Mapping[str, Mapping[str, Any]], env: Mapping[str, str]
) -> Endpoint:
    """The endpoint a task names (None: the default); raise KeyError if it is unknown."""
    key = DEFAULT_ENDPOINT if name is None else name
    table = tables.get(key)
    if table is None:
        if name is not None:
            raise KeyError(name)
        table = {}
    base_url = table.get("base_url")
    key_env = table.get("api_key_env")
    if base_url is None:
        base_url = env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        key_env = key_env or DEFAULT_KEY_ENV
    return Endpoint(
        name=key,
        base_url=str(base_url).rstrip("/"),
        api_key_env=key_env,
        requests_per_minute=table.get("requests_per_minute"),
        tokens_per_minute=table.get("tokens_per_minute"),
        max_concurrency=int(table.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)),
        headers=dict(table.get("headers") or {}),
        timeout_s=float(table.get("timeout", DEFAULT_TIMEOUT_S)),
        input_cost_per_million=table.get("input_cost_per_million"),
        output_cost_per_million=table.get("output_cost_per_million"),
    )


def missing_key(endpoint: Endpoint, env: Mapping[str, str]) -> str | None:
    """Why no request to ``endpoint`` can succeed for want of an API key; None if one may.

    Only OpenAI's own URL is known to need a key: a local server (Ollama,
    vLLM) may need none, even when an ``api_key_env`` is configured for it.
    Without this check, a first run with nothing configured fails every task
    with whatever the network says (a DNS error offline, 401 online).
    """
    if endpoint.base_url != DEFAULT_BASE_URL:
        return None
    key_env = endpoint.api_key_env
    if key_env and env.get(key_env):
        return None
    table = f"[endpoints.{endpoint.name}]"
    if key_env:
        unset = f"{key_env} is not set"
        fix = f"set {key_env}"
    else:
        unset = f"{table} names no api_key_env"
        fix = f"set api_key_env in {table}"
    return (
        f"llm endpoint '{endpoint.name}' is {DEFAULT_BASE_URL} and no API key is set "
        f"({unset}): {fix}, or point OPENAI_BASE_URL or base_url in {table} of "
        "taskfleet.toml at a server that needs no key (e.g. http://127.0.0.1:11434/v1)"
    )
