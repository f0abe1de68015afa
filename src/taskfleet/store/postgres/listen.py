"""Wake-ups for idle workers: LISTEN on the channel a job notifies when it becomes queued.

The ``job_queued`` trigger (``migrations/v2.sql``) sends a job's id on
``taskfleet_queued`` when the job is inserted or set ``queued``; PostgreSQL
delivers it at commit to every listening connection, on any host. The
listener reads on a connection of its own, in a background task, so a
waiter can be cancelled at any moment without leaving that connection
half-read. A notification is a hint: the worker still claims with
``SKIP LOCKED``, and still polls, in case one was lost with a dropped
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

from taskfleet.store.common.queries import load_queries

CHANNEL = "taskfleet_queued"  # as named in migrations/v2.sql and listen_for_queued_jobs
_LISTEN_FOR_QUEUED_JOBS = load_queries("taskfleet.store.postgres")["listen_for_queued_jobs"]
_RECONNECT_S = (0.5, 1.0, 2.0, 5.0)  # then every 5 s while the server stays away

log = logging.getLogger(__name__)

__all__ = ["QueuedJobListener"]


class QueuedJobListener:
    """Listens on :data:`CHANNEL` while open; :meth:`wait` returns on a notification."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._signal = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def wait(self, timeout_s: float) -> None:
        """Return when a job was queued since the last return, or after ``timeout_s``."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="taskfleet-listen")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._signal.wait(), timeout_s)
        self._signal.clear()

    async def close(self) -> None:
        """Stop listening and disconnect."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(_LISTEN_FOR_QUEUED_JOBS)
                    failures = 0
                    # Whatever was queued while no LISTEN was in place is looked for now.
                    self._signal.set()
                    async for _ in conn.notifies():
                        self._signal.set()
            except psycopg.Error as exc:
                log.warning("listening for queued jobs failed (polling meanwhile): %s", exc)
            await asyncio.sleep(_RECONNECT_S[min(failures, len(_RECONNECT_S) - 1)])
            failures += 1
