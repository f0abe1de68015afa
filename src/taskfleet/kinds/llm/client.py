"""One httpx.AsyncClient per endpoint and event loop, with no retries of its own.

taskfleet has one retry loop (the engine's): a client that retried by itself
would spend requests the limiter did not reserve and hide errors' classes.
httpx is imported here, when the first llm request is sent, so that
``taskfleet --help`` does not pay for it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from taskfleet.kinds.llm.endpoints import Endpoint

if TYPE_CHECKING:
    import httpx

__all__ = ["ClientPool"]


class ClientPool:
    """HTTP clients by endpoint, rebuilt when the event loop changes.

    ``taskfleet.run`` starts a new event loop per call while the kind (and
    so this pool) lives for the whole process; a client's connections belong
    to the loop that opened them.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[tuple[str, str, float, int], httpx.AsyncClient] = {}

    def get(self, endpoint: Endpoint) -> httpx.AsyncClient:
        import httpx

        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._clients = {}
        key = (endpoint.name, endpoint.base_url, endpoint.timeout_s, endpoint.max_concurrency)
        client = self._clients.get(key)
        if client is None:
            limits = httpx.Limits(
                max_connections=endpoint.max_concurrency,
                max_keepalive_connections=endpoint.max_concurrency,
            )
            client = httpx.AsyncClient(
                base_url=endpoint.base_url,
                timeout=httpx.Timeout(endpoint.timeout_s, connect=min(endpoint.timeout_s, 30.0)),
                limits=limits,
                transport=httpx.AsyncHTTPTransport(retries=0, limits=limits),
            )
            self._clients[key] = client
        return client

    async def aclose(self) -> None:
        """Close the clients of the running loop (their connections belong to it)."""
        clients, self._clients = self._clients, {}
        loop, self._loop = self._loop, None
        if loop is not asyncio.get_running_loop():
            return  # another loop's: it has ended, and its connections with it
        for client in clients.values():
            await client.aclose()
