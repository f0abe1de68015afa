"""The memory store's dependency graph: which tasks wait on which, and how many still do.

A task is ``pending`` while ``unmet[seq]`` is above zero. When a task
succeeds its dependants lose one unmet dependency; when it ends any other
final way every task downstream of it is skipped, as the SQLite store does.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from taskfleet.errors import TaskfileError, TaskfileIssue
from taskfleet.model import FINAL_TASK_STATES, Attempt, Task, TaskChange, TaskStatus

__all__ = ["JobTasks", "link_dependencies", "satisfy_dependants", "skip_dependants"]


@dataclass
class JobTasks:
    """One job's tasks and dependency graph."""

    by_seq: dict[int, Task] = field(default_factory=dict)
    seq_of: dict[str, int] = field(default_factory=dict)
    unmet: dict[int, int] = field(default_factory=dict)
    dependants: dict[int, list[int]] = field(default_factory=dict)
    attempts: dict[int, dict[int, Attempt]] = field(default_factory=dict)
    changes: list[TaskChange] = field(default_factory=list)
    # Shared by every job of one store: change numbers increase across the store.
    change_counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def in_order(self) -> Iterator[Task]:
        return (self.by_seq[seq] for seq in sorted(self.by_seq))

    def set_status(self, task: Task, status: TaskStatus) -> None:
        """Give ``task`` its new status (after its other fields) and log the change."""
        if task.status is status:
            return
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
    """Skip every unfinished task downstream of ``root``; return their ids in input order."""
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
        if task.status not in FINAL_TASK_STATES:
            task.error, task.finished_at, task.lease_owner = error, now, None
            job_tasks.set_status(task, TaskStatus.SKIPPED)
            skipped.append(task.id)
    return skipped
