"""Polling and server-sent-event helpers of the server tests."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
POLL_S = 0.05


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, message: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(POLL_S)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without any TASKFLEET_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKFLEET_")}
    env.update(extra or {})
    return env


def parse_sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Events (``event``, ``id``, ``data`` decoded) from the lines of an SSE stream."""
    event: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "data" in event:
                event["data"] = json.loads(event["data"])
                yield event
            event = {}
            continue
        key, _, value = line.partition(":")
        event[key] = value[1:] if value.startswith(" ") else value


def read_events(
    client: httpx.Client, path: str, headers: Mapping[str, str] | None = None, until: str = "end"
) -> list[dict[str, Any]]:
    """Every event of a stream up to and including the first ``until`` event."""
    events: list[dict[str, Any]] = []
    with client.stream("GET", path, headers=headers, timeout=30) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in parse_sse(response.iter_lines()):
            events.append(event)
            if event["event"] == until:
                break
    return events
