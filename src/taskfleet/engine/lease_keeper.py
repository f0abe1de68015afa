"""The runner's hold on its job: heartbeats, and the usage totals that ride on them.

Every heartbeat renews the lease, notices a ``cancel JOB`` from another
process or a lease taken over by another runner, and adds the token usage
counted since the last one to the store, so a crash loses at most one
interval of usage (see ARCHITECTURE.md, "Who runs a job").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from taskfleet.errors import LeaseLost
from taskfleet.model import JobStatus, RunnerInfo
from taskfleet.store.base import Store


class LeaseKeeper:
    """Heartbeats one job for one runner until cancelled; counts usage between them."""

    def __init__(
        self,
        store: Store,
        job_id: str,
        runner: RunnerInfo,
        *,
        on_cancelled: Callable[[], None],
        on_lease_lost: Callable[[], None],
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._runner = runner
        self._on_cancelled = on_cancelled
        self._on_lease_lost = on_lease_lost
        self._usage: dict[str, float] = {}

    def add_usage(self, usage: Mapping[str, float]) -> None:
        """Count one attempt's usage (tokens, cost) until the next flush."""
        for key, value in usage.items():
            self._usage[key] = self._usage.get(key, 0.0) + value

    async def flush_usage(self) -> None:
        """Add the usage counted since the last flush to the store's totals."""
        if self._usage:
            usage, self._usage = self._usage, {}
            await self._store.add_usage(self._job_id, usage)

    async def run(self) -> None:
        """Heartbeat every third of the lease (at most every second) until cancelled."""
        interval = min(1.0, self._runner.lease_s / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                status = await self._store.heartbeat(
                    self._job_id, self._runner.runner_id, time.time()
                )
            except LeaseLost:
                self._on_lease_lost()
                return
            if status is JobStatus.CANCELLED:
                self._on_cancelled()
            await self.flush_usage()
