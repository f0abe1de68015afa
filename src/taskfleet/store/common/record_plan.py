"""How a group commit is planned: pure, shared by the SQLite and PostgreSQL stores.

A batch of attempt starts and ends is split into rounds in which each task is
written at most once, so each round is one bulk statement per kind of write;
and it is cut after each failure whose dependants must see the skip before
later updates of the batch apply.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from taskfleet.model import (
    FINAL_TASK_STATES,
    AttemptFinished,
    AttemptStarted,
    TaskStatus,
    TaskUpdate,
)


@dataclass(slots=True)
class Round:
    """Writes in which each task appears at most once: one bulk statement per list.

    ``whole_attempts`` are finishes that carry their attempt's start (``runner_id`` and
    ``started_at`` set): one row write for both.
    """

    starts: list[AttemptStarted] = field(default_factory=list)
    finishes: list[AttemptFinished] = field(default_factory=list)
    whole_attempts: list[AttemptFinished] = field(default_factory=list)
    ended: list[tuple[int, AttemptFinished]] = field(default_factory=list)

    def add(self, update: TaskUpdate, position: int) -> None:
        """Add one task's write; ``position`` keeps propagation in batch order."""
        if isinstance(update, AttemptStarted):
            self.starts.append(update)
            return
        if update.started_at is None:
            self.finishes.append(update)
        else:
            self.whole_attempts.append(update)
        if update.status in FINAL_TASK_STATES:
            self.ended.append((position, update))


def plan_rounds(updates: Sequence[TaskUpdate]) -> list[Round]:
    """Split a batch into rounds in which each task is written at most once.

    Only the order of one task's updates matters (a start before its finish),
    so round n holds every task's n-th write and each round is written with
    one ``executemany`` per statement. A start directly followed by its
    finish merges into one run: one row write instead of two.
    """
    if len({update.seq for update in updates}) == len(updates):
        # The usual batch: every task once, most of them runs already merged by the runner.
        only = Round()
        for position, update in enumerate(updates):
            only.add(update, position)
        return [only] if updates else []
    steps: dict[int, list[tuple[TaskUpdate, int]]] = {}
    for position, update in enumerate(updates):
        task_steps = steps.setdefault(update.seq, [])
        if task_steps and _opens(task_steps[-1][0], update):
            started = task_steps[-1][0]
            assert isinstance(started, AttemptStarted) and isinstance(update, AttemptFinished)
            merged = update._replace(runner_id=started.runner_id, started_at=started.started_at)
            task_steps[-1] = (merged, position)
        else:
            task_steps.append((update, position))
    rounds: list[Round] = []
    for task_steps in steps.values():
        for index, (update, position) in enumerate(task_steps):
            if index == len(rounds):
                rounds.append(Round())
            rounds[index].add(update, position)
    return rounds


def _opens(earlier: TaskUpdate, later: TaskUpdate) -> bool:
    """Whether ``earlier`` is the start of the attempt that ``later`` finishes."""
    return (
        isinstance(earlier, AttemptStarted)
        and isinstance(later, AttemptFinished)
        and later.started_at is None
        and earlier.attempt == later.attempt
    )


def failing_positions(updates: Sequence[TaskUpdate]) -> list[tuple[int, int]]:
    """(position, seq) of every update that ends its task for good without success."""
    return [
        (position, update.seq)
        for position, update in enumerate(updates)
        if isinstance(update, AttemptFinished)
        and update.status in FINAL_TASK_STATES
        and update.status is not TaskStatus.SUCCEEDED
    ]


def cut_after(
    updates: Sequence[TaskUpdate],
    failing: Sequence[tuple[int, int]],
    with_dependants: Collection[int],
) -> list[Sequence[TaskUpdate]]:
    """The batch cut after each failing update whose task has dependants.

    Rounds reorder updates of different tasks, which is safe except across
    a skip cascade: a dependant updated later in the batch must see the skip
    first, as if applied one by one. Successes commute with the rest: only
    tasks with no unmet dependencies are leased, so none are started early.
    """
    cuts = [position + 1 for position, seq in failing if seq in with_dependants]
    bounds = [0, *cuts, len(updates)]
    return [updates[lo:hi] for lo, hi in itertools.pairwise(bounds) if lo < hi]
