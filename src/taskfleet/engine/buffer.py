"""Write-behind buffer: task updates reach the store in group commits.

Flushes when ``max_items`` updates are waiting or ``max_delay_s`` after the
first one arrived, whichever comes first (pgqueuer's TimedOverflowBuffer idea).
A crash loses at most the last ``max_delay_s`` of outcomes; those tasks are
still leased as running in the store and run again on resume (at-least-once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from taskfleet.model import TaskUpdate
from taskfleet.store.base import Store

SkippedCallback = Callable[[list[str]], Awaitable[None]]


class WriteBehind:
    """Batches TaskUpdates for one job and records them in order."""

    def __init__(
        self,
        store: Store,
        job_id: str,
        *,
        max_items: int = 2000,
        max_delay_s: float = 0.02,
        on_skipped: SkippedCallback | None = None,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._max_items = max_items
        self._max_delay_s = max_delay_s
        self._on_skipped = on_skipped
        self._pending: list[TaskUpdate] = []
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closing = False
        self.flush_count = 0  # commits so far: lets the runner know new outcomes landed
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start the background flusher."""
        self._flusher = asyncio.create_task(self._flush_loop(), name="taskfleet-flusher")

    def add(self, update: TaskUpdate) -> None:
        """Queue one update; never blocks. Re-raises a failed background flush."""
        if self._error is not None:
            raise self._error
        self._pending.append(update)
        if len(self._pending) == 1 or len(self._pending) >= self._max_items:
            self._wake.set()

    async def flush(self) -> None:
        """Write everything queued so far."""
        async with self._lock:
            while self._pending:
                batch, self._pending = self._pending, []
                skipped = await self._store.record_attempts(self._job_id, batch)
                self.flush_count += 1
                if skipped and self._on_skipped is not None:
                    await self._on_skipped(skipped)

    async def close(self) -> None:
        """Stop the flusher after it has written what is left."""
        self._closing = True
        self._wake.set()
        if self._flusher is not None:
            flusher, self._flusher = self._flusher, None
            await flusher
        if self._error is not None:
            raise self._error
        await self.flush()

    async def _flush_loop(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if not self._closing and len(self._pending) < self._max_items:
                # Let a group gather: one commit for many outcomes.
                await asyncio.sleep(self._max_delay_s)
            try:
                await self.flush()
            except Exception as exc:  # surfaced to the runner on its next add/close
                self._error = exc
                return
