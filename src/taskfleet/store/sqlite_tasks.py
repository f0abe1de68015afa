"""Task writes of the SQLite store: bulk insert, group commits, dependency propagation.

Each function runs inside a transaction the caller opened. The hot paths
(``insert_tasks``, ``record_updates``) use ``executemany`` and touch the
dependency tables only for jobs and tasks that have dependencies.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from taskfleet.errors import TaskfileError, TaskfileIssue
from taskfleet.model import (
    FINAL_TASK_STATES,
    AttemptFinished,
    AttemptStarted,
    TaskSpec,
    TaskStatus,
    TaskUpdate,
)
from taskfleet.store.sqlite_schema import TASK_INSERT_COLUMNS, encode_json, task_insert_row

BATCH_SIZE = 1000
# Enum .value is a property lookup; this is on the per-update hot path.
_STATUS_VALUES = {status: status.value for status in TaskStatus}
_FINAL_SQL = ", ".join(f"'{status.value}'" for status in sorted(FINAL_TASK_STATES))

_INSERT_TASK = (
    f"INSERT INTO tasks ({TASK_INSERT_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(TASK_INSERT_COLUMNS.split(',')))})"
)
_STAGE_DEPENDENCY = "INSERT INTO temp.dep_staging (seq, dep_task_id) VALUES (?, ?)"
_UNKNOWN_DEPENDENCIES = """
SELECT t.task_id, s.dep_task_id FROM temp.dep_staging AS s
JOIN tasks AS t ON t.job_id = :job_id AND t.seq = s.seq
WHERE NOT EXISTS (
    SELECT 1 FROM tasks AS d WHERE d.job_id = :job_id AND d.task_id = s.dep_task_id
)
ORDER BY s.rowid LIMIT 20
"""
_RESOLVE_DEPENDENCIES = """
INSERT INTO task_deps (job_id, seq, dep_seq)
SELECT :job_id, s.seq, d.seq FROM temp.dep_staging AS s
JOIN tasks AS d ON d.job_id = :job_id AND d.task_id = s.dep_task_id
"""
_MARK_HAS_DEPENDANTS = """
UPDATE tasks SET has_dependants = 1
WHERE job_id = :job_id AND seq IN (SELECT dep_seq FROM task_deps WHERE job_id = :job_id)
"""

_START_TASK = """
UPDATE tasks SET status = 'running', attempts = ?, started_at = ?, finished_at = NULL
WHERE job_id = ? AND seq = ?
"""
_RECORD_ATTEMPT = """
INSERT OR REPLACE INTO attempts
    (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
_CLOSE_ATTEMPT = """
UPDATE attempts SET finished_at = ?, outcome = ?, error = ?
WHERE job_id = ? AND seq = ? AND number = ?
"""
# Only when a finish arrives without its start: the lease holder is the best
# guess at the runner, and the duration gives the start time.
_CLOSE_UNSTARTED_ATTEMPT = """
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT job_id, seq, ?, COALESCE(lease_owner, ''), ?, ?, ?, ?
FROM tasks WHERE job_id = ? AND seq = ?
ON CONFLICT (job_id, seq, number) DO NOTHING
"""
_FINISH_SET = """
status = ?, result = ?, error = ?, finished_at = ?, duration_s = ?,
    failures = ?, not_before = ?, lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END
WHERE job_id = ? AND seq = ?
"""
_FINISH_TASK = f"UPDATE tasks SET {_FINISH_SET}"
# A start and its finish in one write.
_RUN_TASK = f"UPDATE tasks SET attempts = ?, started_at = ?, {_FINISH_SET}"
_ENDED_WITH_DEPENDANTS = """
SELECT seq, task_id FROM tasks
WHERE job_id = ? AND has_dependants = 1 AND seq IN (SELECT value FROM json_each(?))
"""
# Queries with joins are written so that SQLite's planner, which has no
# statistics on a fresh file, cannot pick a scan over all of a job's tasks.

# SET reads the old row, so `unmet_deps = 1` means "this success was the last one missing".
_SATISFY_DEPENDANTS = """
UPDATE tasks SET unmet_deps = MAX(unmet_deps - 1, 0),
    status = CASE WHEN status = 'pending' AND unmet_deps = 1 THEN 'queued' ELSE status END
WHERE job_id = :job_id
  AND seq IN (SELECT seq FROM task_deps WHERE job_id = :job_id AND dep_seq = :dep_seq)
"""
_SKIP_DEPENDANTS = f"""
WITH RECURSIVE dependants (seq) AS (
    SELECT seq FROM task_deps WHERE job_id = :job_id AND dep_seq = :dep_seq
    UNION
    SELECT d.seq FROM task_deps AS d JOIN dependants AS p ON d.dep_seq = p.seq
    WHERE d.job_id = :job_id
)
UPDATE tasks SET status = 'skipped', error = :error, finished_at = :now, lease_owner = NULL
FROM dependants AS p
WHERE tasks.job_id = :job_id AND tasks.seq = p.seq AND tasks.status NOT IN ({_FINAL_SQL})
RETURNING tasks.seq, tasks.task_id
"""

_CLOSE_INTERRUPTED_ATTEMPTS = """
UPDATE attempts SET finished_at = :now, outcome = 'interrupted'
FROM tasks AS t
WHERE t.job_id = :job_id AND t.lease_owner = :runner_id AND t.status = 'running'
  AND attempts.job_id = t.job_id AND attempts.seq = t.seq AND attempts.finished_at IS NULL
"""
_RELEASE_LEASES = """
UPDATE tasks SET lease_owner = NULL,
    status = CASE WHEN status = 'running' THEN 'queued' ELSE status END
WHERE job_id = :job_id AND lease_owner = :runner_id
"""

_SELECT_FOR_REOPEN = """
INSERT INTO temp.reopen_selection (seq)
SELECT seq FROM tasks WHERE job_id = :job_id AND (
    status IN (SELECT value FROM json_each(:statuses))
    OR task_id IN (SELECT value FROM json_each(:task_ids))
)
"""
# Queued first, so that a dependency reopened in the same call counts as unmet below.
_REOPEN = """
UPDATE tasks SET status = 'queued', failures = 0, error = NULL, result = NULL,
    not_before = NULL, lease_owner = NULL, finished_at = NULL, duration_s = NULL
WHERE job_id = :job_id AND seq IN (SELECT seq FROM temp.reopen_selection)
"""
_RECOUNT_UNMET = """
UPDATE tasks SET unmet_deps = (
    SELECT count(*) FROM task_deps AS d
    CROSS JOIN tasks AS dep ON dep.job_id = d.job_id AND dep.seq = d.dep_seq
    WHERE d.job_id = tasks.job_id AND d.seq = tasks.seq AND dep.status != 'succeeded'
)
WHERE job_id = :job_id AND seq IN (SELECT seq FROM temp.reopen_selection)
"""
_PEND_UNMET = """
UPDATE tasks SET status = 'pending'
WHERE job_id = :job_id AND unmet_deps > 0 AND seq IN (SELECT seq FROM temp.reopen_selection)
"""


def insert_tasks(conn: sqlite3.Connection, job_id: str, tasks: Iterable[TaskSpec]) -> int:
    """Insert the tasks and their dependencies in batches; return how many."""
    conn.execute("DELETE FROM temp.dep_staging")
    rows: list[tuple[Any, ...]] = []
    edges: list[tuple[int, str]] = []
    total = 0
    for spec in tasks:
        depends_on = tuple(dict.fromkeys(spec.depends_on))
        rows.append(task_insert_row(job_id, spec, depends_on))
        edges.extend((spec.seq, dep) for dep in depends_on)
        if len(rows) >= BATCH_SIZE or len(edges) >= BATCH_SIZE:
            total += _flush_tasks(conn, rows, edges)
    total += _flush_tasks(conn, rows, edges)
    if conn.execute("SELECT 1 FROM temp.dep_staging LIMIT 1").fetchone() is not None:
        _resolve_dependencies(conn, job_id)
    return total


def _flush_tasks(
    conn: sqlite3.Connection, rows: list[tuple[Any, ...]], edges: list[tuple[int, str]]
) -> int:
    count = len(rows)
    conn.executemany(_INSERT_TASK, rows)
    conn.executemany(_STAGE_DEPENDENCY, edges)
    rows.clear()
    edges.clear()
    return count


def _resolve_dependencies(conn: sqlite3.Connection, job_id: str) -> None:
    params = {"job_id": job_id}
    unknown = conn.execute(_UNKNOWN_DEPENDENCIES, params).fetchall()
    if unknown:
        # The parser rejects these; a task waiting on a missing one would never start.
        raise TaskfileError(
            [
                TaskfileIssue(
                    f"job {job_id}", None, "depends_on", f"task '{task}': no task '{dep}'"
                )
                for task, dep in unknown
            ]
        )
    conn.execute(_RESOLVE_DEPENDENCIES, params)
    conn.execute(_MARK_HAS_DEPENDANTS, params)
    conn.execute("DELETE FROM temp.dep_staging")


class _Step(NamedTuple):
    """One write to one task: a start, a finish, or both (an attempt that ran within the batch)."""

    started: AttemptStarted | None
    finished: AttemptFinished | None
    position: int  # of the last update merged in, to keep propagation in batch order


@dataclass(slots=True)
class _Round:
    starts: list[AttemptStarted] = field(default_factory=list)
    finishes: list[AttemptFinished] = field(default_factory=list)
    runs: list[tuple[AttemptStarted, AttemptFinished]] = field(default_factory=list)
    ended: list[tuple[int, AttemptFinished]] = field(default_factory=list)

    def add(self, step: _Step) -> None:
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


def plan_rounds(updates: Sequence[TaskUpdate]) -> list[_Round]:
    """Split a batch into rounds in which each task is written at most once.

    Only the order of one task's updates matters (a start before its finish),
    so round n holds every task's n-th step and each round is written with
    one ``executemany`` per statement. A start directly followed by its
    finish (a fast task) merges into one step: one row write instead of two.
    """
    steps: dict[int, list[_Step]] = {}
    for position, update in enumerate(updates):
        task_steps = steps.setdefault(update.seq, [])
        last = task_steps[-1] if task_steps else None
        if isinstance(update, AttemptStarted):
            task_steps.append(_Step(update, None, position))
        elif (
            last is not None
            and last.finished is None
            and last.started is not None
            and last.started.attempt == update.attempt
        ):
            task_steps[-1] = _Step(last.started, update, position)
        else:
            task_steps.append(_Step(None, update, position))
    rounds: list[_Round] = []
    for task_steps in steps.values():
        for index, step in enumerate(task_steps):
            if index == len(rounds):
                rounds.append(_Round())
            rounds[index].add(step)
    return rounds


def record_updates(
    conn: sqlite3.Connection, job_id: str, updates: Sequence[TaskUpdate]
) -> list[str]:
    """Apply a batch of updates; return the ids of tasks skipped by propagation."""
    skipped: list[str] = []
    has_dependencies = (
        conn.execute("SELECT 1 FROM task_deps WHERE job_id = ? LIMIT 1", (job_id,)).fetchone()
        is not None
    )
    for round_ in plan_rounds(updates):
        _record_starts(conn, job_id, round_.starts)
        _record_finishes(conn, job_id, round_.finishes)
        _record_runs(conn, job_id, round_.runs)
        if has_dependencies and round_.ended:
            ended = [finished for _, finished in sorted(round_.ended, key=lambda item: item[0])]
            skipped += _propagate(conn, job_id, ended)
    return skipped


def _record_starts(conn: sqlite3.Connection, job_id: str, starts: list[AttemptStarted]) -> None:
    if not starts:
        return
    conn.executemany(_START_TASK, [(s.attempt, s.started_at, job_id, s.seq) for s in starts])
    conn.executemany(
        _RECORD_ATTEMPT,
        [(job_id, s.seq, s.attempt, s.runner_id, s.started_at, None, None, None) for s in starts],
    )


def _record_runs(
    conn: sqlite3.Connection, job_id: str, runs: list[tuple[AttemptStarted, AttemptFinished]]
) -> None:
    if not runs:
        return
    conn.executemany(
        _RUN_TASK, [(s.attempt, s.started_at, *_finish_row(job_id, f)) for s, f in runs]
    )
    conn.executemany(
        _RECORD_ATTEMPT,
        [
            (
                job_id,
                f.seq,
                f.attempt,
                s.runner_id,
                s.started_at,
                f.finished_at,
                f.attempt_outcome,
                f.error,
            )
            for s, f in runs
        ],
    )


def _record_finishes(
    conn: sqlite3.Connection, job_id: str, finishes: list[AttemptFinished]
) -> None:
    if not finishes:
        return
    closed = conn.executemany(
        _CLOSE_ATTEMPT,
        [(f.finished_at, f.attempt_outcome, f.error, job_id, f.seq, f.attempt) for f in finishes],
    ).rowcount
    if closed < len(finishes):
        conn.executemany(
            _CLOSE_UNSTARTED_ATTEMPT,
            [
                (
                    f.attempt,
                    f.finished_at - f.duration_s,
                    f.finished_at,
                    f.attempt_outcome,
                    f.error,
                    job_id,
                    f.seq,
                )
                for f in finishes
            ],
        )
    conn.executemany(_FINISH_TASK, [_finish_row(job_id, f) for f in finishes])


def _finish_row(job_id: str, finished: AttemptFinished) -> tuple[Any, ...]:
    # A pending task waits for its retry under the same runner: it keeps the lease.
    releases = finished.status in FINAL_TASK_STATES or finished.status is TaskStatus.QUEUED
    return (
        _STATUS_VALUES[finished.status],
        None if finished.result is None else encode_json(finished.result),
        finished.error,
        finished.finished_at,
        finished.duration_s,
        finished.failures,
        finished.not_before,
        releases,
        job_id,
        finished.seq,
    )


def _propagate(conn: sqlite3.Connection, job_id: str, finishes: list[AttemptFinished]) -> list[str]:
    ended = [f for f in finishes if f.status in FINAL_TASK_STATES]
    if not ended:
        return []
    rows = conn.execute(
        _ENDED_WITH_DEPENDANTS, (job_id, encode_json([f.seq for f in ended]))
    ).fetchall()
    task_ids: dict[int, str] = dict(rows)
    skipped: list[str] = []
    for finished in ended:
        if finished.seq not in task_ids:
            continue
        if finished.status is TaskStatus.SUCCEEDED:
            conn.execute(_SATISFY_DEPENDANTS, {"job_id": job_id, "dep_seq": finished.seq})
            continue
        params = {
            "job_id": job_id,
            "dep_seq": finished.seq,
            "error": f"dependency '{task_ids[finished.seq]}' ended {finished.status.value}",
            "now": finished.finished_at,
        }
        rows = conn.execute(_SKIP_DEPENDANTS, params).fetchall()
        skipped += [task_id for _, task_id in sorted(rows)]
    return skipped


def release_leases(conn: sqlite3.Connection, job_id: str, runner_id: str, now: float) -> None:
    """Free ``runner_id``'s tasks: running ones go back to queued, their attempts interrupted."""
    params = {"job_id": job_id, "runner_id": runner_id, "now": now}
    conn.execute(_CLOSE_INTERRUPTED_ATTEMPTS, params)
    conn.execute(_RELEASE_LEASES, params)


def reopen_tasks(
    conn: sqlite3.Connection,
    job_id: str,
    statuses: Collection[TaskStatus],
    task_ids: Collection[str],
) -> int:
    """Reopen the selected tasks with fresh retries; return how many."""
    conn.execute("DELETE FROM temp.reopen_selection")
    params = {
        "job_id": job_id,
        "statuses": encode_json([status.value for status in statuses]),
        "task_ids": encode_json(list(task_ids)),
    }
    count = conn.execute(_SELECT_FOR_REOPEN, params).rowcount
    if count:
        conn.execute(_REOPEN, params)
        conn.execute(_RECOUNT_UNMET, params)
        conn.execute(_PEND_UNMET, params)
    conn.execute("DELETE FROM temp.reopen_selection")
    return count
