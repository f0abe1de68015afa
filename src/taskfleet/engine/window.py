"""The window: the tasks a runner has claimed from the store and not started yet.

A job of a million tasks is never held whole: the runner borrows a window
of them (claims are reads, see store/common/claims.py), refills it when half of it
has started, and keeps it sorted in start order so that each scheduling
round looks only at the candidates it needs (engine/scheduler.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from taskfleet.engine.scheduler import Candidate, sort_key
from taskfleet.limits.slots import slot_keys_for
from taskfleet.model import JobOptions, Task
from taskfleet.store.base import Store


class TaskWindow:
    """Claimed tasks waiting to start, in start order, and every task the runner holds."""

    def __init__(
        self, store: Store, job_id: str, runner_id: str, options: JobOptions, size: int
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._runner_id = runner_id
        self._options = options
        self.size = size
        self.waiting: list[Candidate] = []  # sorted by sort_key
        self.tasks: dict[int, Task] = {}  # by seq: waiting, running or waiting for a retry
        self._exhausted_at_flush = -1

    async def refill(self, flush_count: int, *, force: bool = False) -> None:
        """Claim more tasks once half of the window has started.

        ``flush_count`` counts the group commits so far: a claim that came
        back short is tried again only after new outcomes were committed
        (they may have promoted dependants), unless ``force``.
        """
        if len(self.waiting) >= self.size // 2:
            return
        if not force and self._exhausted_at_flush == flush_count:
            return
        claimed = await self._store.claim_tasks(self._job_id, self._runner_id, self.size)
        if len(claimed) < self.size:
            self._exhausted_at_flush = flush_count
        options = self._options
        for task in claimed:
            self.tasks[task.seq] = task
            keys = slot_keys_for(task, options) if task.profile or task.resources else ()
            self.waiting.append(
                Candidate(task.seq, task.priority, task.scope, keys, task.not_before)
            )
        if claimed:
            self.waiting.sort(key=sort_key)  # timsort: near-linear on two sorted runs

    def take(self, picked: Sequence[Candidate]) -> None:
        """Remove the candidates the scheduler picked (usually the window's head)."""
        if picked == self.waiting[: len(picked)]:
            del self.waiting[: len(picked)]
        else:
            chosen = {c.seq for c in picked}
            self.waiting = [c for c in self.waiting if c.seq not in chosen]

    def put_back(self, candidates: Iterable[Candidate]) -> None:
        """Candidates that wait again: unstarted after a stop, or a retry with its time."""
        for candidate in candidates:
            bisect.insort(self.waiting, candidate, key=sort_key)

    def forget(self, seq: int) -> None:
        """A task ended for good: the runner holds it no longer."""
        del self.tasks[seq]
