"""The memory store's dependency graph: which tasks wait on which, and how many still do.

A task is ``pending`` while ``unmet[seq]`` is above zero. When a task
succeeds its dependants lose one unmet dependency; when it ends any other
final way every task downstream of it that has not started is skipped, as
the SQL stores do. Every status change goes through ``JobTasks.set_status``,
which checks it against the state machine and logs it.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Container, Iterator
from dataclasses import dataclass, field

from taskfleet.errors import TaskfileError, TaskfileIssue
from taskfleet.model import (
    TASK_TRANSITIONS,
    Attempt,
    Task,
    TaskChange,
    TaskStatus,
    check_attempt_end,
    check_task_transition,
)

__all__ = ["JobTasks", "link_dependencies", "satisfy_dependants", "skip_dependants"]

_OPEN = (TaskStatus.PENDING, TaskStatus.QUEUED)
# What a failed dependency skips: tasks not started yet (pending or queued).
_SKIPPABLE = frozenset(s for s in TaskStatus if TaskStatus.SKIPPED in TASK_TRANSITIONS[s])


@dataclass
class JobTasks:
    """One job's tasks and dependency graph."""

    by_seq: dict[int, Task] = field(default_factory=dict)
    seq_of: dict[str, int] = field(default_factory=dict)  # task id -> seq
    unmet: dict[int, int] = field(default_factory=dict)  # seq -> dependencies not succeeded
    dependants: dict[int, list[int]] = field(default_factory=dict)  # seq -> dependant seqs
    # seq -> attempt number -> the attempt
    attempts: dict[int, dict[int, Attempt]] = field(default_factory=dict)
    changes: list[TaskChange] = field(default_factory=list)
    # Shared by every job of one store: change numbers increase across the store.
    change_counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def in_order(self) -> Iterator[Task]:
        return (self.by_seq[seq] for seq in sorted(self.by_seq))

    def startable(self, held: Container[int]) -> list[Task]:
        """Tasks a claim may hand out, in start order: open, no unmet dependency, not leased.

        ``held``: seqs claimed already and not started.
        """
        startable = [
            task
            for task in self.by_seq.values()
            if task.lease_owner is None
            and task.seq not in held
            and task.status in _OPEN
            and self.unmet[task.seq] == 0
        ]
        startable.sort(key=lambda task: (-task.priority, task.seq))
        return startable

    def set_status(self, task: Task, status: TaskStatus, *, ends_attempt: bool = False) -> None:
        """Give ``task`` its new status (after its other fields) and log the change.

        Raises InvalidTransition for a change the state machine forbids (for
        ``ends_attempt``, as an attempt's end); callers that set other fields
        first check the change before they do.
        """
        if task.status is status:
            return
        if ends_attempt:
            check_attempt_end(task.status, status)
        else:
            check_task_transition(task.status, status)
        task.status = status
        error = None if task.error is None else task.error[:1000]
        change = TaskChange(
            next(self.change_counter), task.id, status, task.attempts, error, task.finished_at
        )
        self.changes.append(change)


def link_dependencies(job_id: str, job_tasks: JobTasks, edges: list[tuple[int, str]]) -> None:
    """Record ``(seq, depends on id)`` edges as dependants; TaskfileError for unknown ids."""
    unknown = [(seq, dep) for seq, dep in edges if dep not in job_tasks.seq_of]
    if unknown:
        # The parser rejects these; a task waiting on a missing one would never start.
        messages = [f"task '{job_tasks.by_seq[seq].id}': no task '{dep}'" for seq, dep in unknown]
        source = f"job {job_id}"
        issues = [TaskfileIssue(source, None, "depends_on", text) for text in messages]
        raise TaskfileError(issues[:20])
    for seq, dep in edges:
        job_tasks.dependants.setdefault(job_tasks.seq_of[dep], []).append(seq)


def satisfy_dependants(job_tasks: JobTasks, seq: int) -> None:
    """Task ``seq`` succeeded: its dependants wait on one task less."""
    for dependant in job_tasks.dependants.get(seq, ()):
        unmet = job_tasks.unmet[dependant]
        task = job_tasks.by_seq[dependant]
        if unmet == 1 and task.status is TaskStatus.PENDING:
            job_tasks.set_status(task, TaskStatus.QUEUED)
        job_tasks.unmet[dependant] = max(unmet - 1, 0)


def skip_dependants(job_tasks: JobTasks, root: Task, now: float) -> list[str]:
    """Skip every task downstream of ``root`` not started yet; return their ids in input order.

    A running one is left to its runner, as ``cancel_open_tasks`` leaves it.
    """
    error = f"dependency '{root.id}' ended {root.status.value}"
    reached: set[int] = set()
    frontier = deque(job_tasks.dependants.get(root.seq, ()))
    while frontier:
        seq = frontier.popleft()
        if seq not in reached:
            reached.add(seq)
            frontier.extend(job_tasks.dependants.get(seq, ()))
    skipped: list[str] = []
    for seq in sorted(reached):
        task = job_tasks.by_seq[seq]
        if task.status in _SKIPPABLE:
            task.error, task.finished_at, task.lease_owner = error, now, None
            job_tasks.set_status(task, TaskStatus.SKIPPED)
            skipped.append(task.id)
    return skipped
