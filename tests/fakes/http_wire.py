"""HTTP/1.1 on asyncio streams for the fake servers: one JSON request in, one JSON answer out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

__all__ = ["read_request", "write_response"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
_REASONS |= {429: "Too Many Requests", 500: "Internal Server Error", 503: "Unavailable"}


async def read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """(method, path without the query, headers in lower case, body); None at EOF."""
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return method, target.split("?", 1)[0], headers, body


def write_response(
    writer: asyncio.StreamWriter, status: int, headers: dict[str, str], payload: Any
) -> None:
    """Write one JSON answer (keep-alive: the length is always given)."""
    data = json.dumps(payload).encode()
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    all_headers = {"content-type": "application/json", "content-length": str(len(data)), **headers}
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
