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
from typing import NamedTuple

from taskfleet.model import (
    FINAL_TASK_STATES,
    AttemptFinished,
    AttemptStarted,
    TaskStatus,
    TaskUpdate,
)


class Step(NamedTuple):
    """One write to one task: a start, a finish, or both (an attempt that ran within the batch)."""

    started: AttemptStarted | None
    finished: AttemptFinished | None
    position: int  # of the last update merged in, to keep propagation in batch order


@dataclass(slots=True)
class Round:
    starts: list[AttemptStarted] = field(default_factory=list)
    finishes: list[AttemptFinished] = field(default_factory=list)
    runs: list[tuple[AttemptStarted, AttemptFinished]] = field(default_factory=list)
    ended: list[tuple[int, AttemptFinished]] = field(default_factory=list)

    def add(self, step: Step) -> None:
        started, finished, position = step
        if finished is None:
            if started is not None:
                self.starts.append(started)
            return
        if started is None:
            self.finishes.append(finished)
        else:
            self.runs.append((started, finished))
        if finished.status in FINAL_TASK_STATES:
            self.ended.append((position, finished))


def plan_rounds(updates: Sequence[TaskUpdate]) -> list[Round]:
    """Split a batch into rounds in which each task is written at most once.

    Only the order of one task's updates matters (a start before its finish),
    so round n holds every task's n-th step and each round is written with
    one ``executemany`` per statement. A start directly followed by its
    finish (a fast task) merges into one step: one row write instead of two.
    """
    steps: dict[int, list[Step]] = {}
    for position, update in enumerate(updates):
        task_steps = steps.setdefault(update.seq, [])
        last = task_steps[-1] if task_steps else None
        if isinstance(update, AttemptStarted):
            task_steps.append(Step(update, None, position))
        elif (
            last is not None
            and last.finished is None
            and last.started is not None
            and last.started.attempt == update.attempt
        ):
            task_steps[-1] = Step(last.started, update, position)
        else:
            task_steps.append(Step(None, update, position))
    rounds: list[Round] = []
    for task_steps in steps.values():
        for index, step in enumerate(task_steps):
            if index == len(rounds):
                rounds.append(Round())
            rounds[index].add(step)
    return rounds


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
