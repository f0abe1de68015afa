"""Polling and server-sent-event helpers of the server tests."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from e2e.helpers import clean_env as clean_env
from e2e.helpers import wait_for as wait_for


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
