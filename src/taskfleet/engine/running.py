"""Attempts in flight: started by the runner as asyncio tasks, their end not yet recorded.

An attempt that ends without suspending never gets here (``attempt.start_eagerly``).
The others end in a done-callback, which only notes the outcome and wakes the
runner's loop; the loop records the ends (``take_ended``) in the order they came.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial

from taskfleet.engine.scheduler import Candidate
from taskfleet.model import Outcome, Task, TaskStatus


@dataclass(slots=True)
class RunningAttempt:
    """One attempt in flight."""

    task: Task
    candidate: Candidate
    attempt: int
    started_at: float
    future: asyncio.Task[Outcome | None]
    cancel_as: TaskStatus | None = None  # set when the runner cancels the attempt


class RunningAttempts:
    """The runner's attempts in flight, by task seq, and those that ended since last asked."""

    def __init__(self, wake: asyncio.Event) -> None:
        self._by_seq: dict[int, RunningAttempt] = {}
        self._ended: list[tuple[int, Outcome | None]] = []  # (seq, outcome); None: cancelled
        self._wake = wake  # set when an attempt ends

    def __len__(self) -> int:
        return len(self._by_seq)

    @property
    def any_ended(self) -> bool:
        """Whether an attempt ended that ``take_ended`` has not returned yet."""
        return bool(self._ended)

    def add(self, running: RunningAttempt) -> None:
        """Track an attempt that has started."""
        seq = running.task.seq
        self._by_seq[seq] = running
        running.future.add_done_callback(partial(self._on_done, seq))

    def _on_done(self, seq: int, future: asyncio.Task[Outcome | None]) -> None:
        outcome = None if future.cancelled() else future.result()
        self._ended.append((seq, outcome))
        self._wake.set()

    def take_ended(self) -> list[tuple[RunningAttempt, Outcome | None]]:
        """The attempts that ended, with their outcomes (None: cancelled); no longer tracked."""
        ended, self._ended = self._ended, []
        return [(self._by_seq.pop(seq), outcome) for seq, outcome in ended]

    def scopes(self) -> list[tuple[str, ...]]:
        """The scopes of the tasks in flight (no overlapping one may start)."""
        return [running.candidate.scope for running in self._by_seq.values()]

    def cancel_all(self, cancel_as: TaskStatus) -> None:
        """Cancel every attempt in flight; ``cancel_as``: the status its task ends in."""
        for running in self._by_seq.values():
            if running.cancel_as is None:
                running.cancel_as = cancel_as
                running.future.cancel()

    async def interrupt_and_wait(self) -> None:
        """Cancel what is still in flight (its tasks run again) and wait until all ended."""
        if self._by_seq:
            self.cancel_all(TaskStatus.QUEUED)
            futures = [running.future for running in self._by_seq.values()]
            await asyncio.gather(*futures, return_exceptions=True)
            await asyncio.sleep(0)  # let done-callbacks run
