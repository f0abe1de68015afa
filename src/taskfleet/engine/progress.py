"""Progress: live counters, rate and ETA of a running job, and its task events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from taskfleet.model import StatusCounts, TaskStatus


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """A task changed state."""

    job_id: str
    task_id: str  # the task's id (the user's name for it)
    status: TaskStatus
    attempt: int
    at: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    """Where a job stands, for progress bars and progress events."""

    job_id: str
    counts: StatusCounts
    elapsed_s: float
    items_per_second: float
    eta_s: float | None
    current_item: str | None

    @property
    def percentage(self) -> float:
        total = self.counts.total
        return 100.0 * self.counts.ended / total if total else 100.0


EventListener = Callable[[TaskEvent], None]


class ProgressTracker:
    """Counts of a job's tasks per state, kept current by the runner."""

    def __init__(self, job_id: str, counts: StatusCounts, started_at: float) -> None:
        self.job_id = job_id
        self._counts = {status: getattr(counts, status.value) for status in TaskStatus}
        self._started_at = started_at
        self._ended_at_start = counts.ended
        self.current_item: str | None = None

    def reset(self, counts: StatusCounts) -> None:
        """Take the store's counts (after changes the runner did not make itself)."""
        self._counts = {status: getattr(counts, status.value) for status in TaskStatus}

    def move(self, old: TaskStatus, new: TaskStatus) -> None:
        """One task went from ``old`` to ``new``."""
        counts = self._counts
        counts[old] -= 1
        counts[new] += 1

    @property
    def counts(self) -> StatusCounts:
        return StatusCounts(**{status.value: n for status, n in self._counts.items()})

    def snapshot(self, now: float) -> ProgressSnapshot:
        """Counters, rate and ETA as of ``now``."""
        counts = self.counts
        elapsed = max(now - self._started_at, 0.0)
        done_here = counts.ended - self._ended_at_start
        rate = done_here / elapsed if elapsed > 0 else 0.0
        eta = counts.open / rate if rate > 0 else (0.0 if counts.open == 0 else None)
        return ProgressSnapshot(self.job_id, counts, elapsed, rate, eta, self.current_item)
