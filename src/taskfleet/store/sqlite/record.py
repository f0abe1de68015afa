"""Group commits for the SQLite store: ``record`` and dependency propagation.

The hot path of a run: every attempt start and end of every task passes
here, in batches of hundreds to thousands. So each batch is written with
one ``executemany`` per statement, a fast task's start and end become one
row write, and dependency tables are touched only for tasks with dependants.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from taskfleet.model import (
    FINAL_TASK_STATES,
    AttemptFinished,
    AttemptStarted,
    TaskStatus,
    TaskUpdate,
)
from taskfleet.store.common.record_plan import Round, cut_after, failing_positions, plan_rounds
from taskfleet.store.common.rows import encode_json

# Enum .value is a property lookup; this is on the per-update hot path.
_STATUS_VALUES = {status: status.value for status in TaskStatus}
_FINAL_SQL = ", ".join(f"'{status.value}'" for status in sorted(FINAL_TASK_STATES))

_START_TASK = """
UPDATE tasks SET status = 'running', attempts = ?, started_at = ?, finished_at = NULL,
    attempt_outcome = NULL, lease_owner = ?
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
# Only when a finish arrives without its start: the lease holder (stored, or
# the claim's) is the best guess at the runner, and the duration gives the start time.
_CLOSE_UNSTARTED_ATTEMPT = """
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT job_id, seq, ?, COALESCE(lease_owner, ?, ''), ?, ?, ?, ?
FROM tasks WHERE job_id = ? AND seq = ?
ON CONFLICT (job_id, seq, number) DO NOTHING
"""
_FINISH_SET = """
status = ?, result = ?, error = ?, finished_at = ?, duration_s = ?,
    failures = ?, not_before = ?,
    lease_owner = CASE WHEN ? THEN NULL ELSE COALESCE(?, lease_owner) END
WHERE job_id = ? AND seq = ?
"""
_FINISH_TASK = f"UPDATE tasks SET {_FINISH_SET}"
# A start and its finish in one write. A final one keeps the attempt in the
# row (attempt_outcome set, schema v2) instead of an attempts row.
_RUN_TASK = (
    "UPDATE tasks SET attempts = ?, started_at = ?, attempt_runner = ?, attempt_outcome = ?, "
    + _FINISH_SET
)
_ENDED_WITH_DEPENDANTS = """
SELECT seq, task_id FROM tasks
WHERE job_id = ? AND has_dependants = 1 AND seq IN (SELECT value FROM json_each(?))
"""
# SET reads the old row, so `unmet_deps = 1` means "this success was the last one missing".
_SATISFY_DEPENDANTS = """
UPDATE tasks SET unmet_deps = MAX(unmet_deps - 1, 0),
    status = CASE WHEN status = 'pending' AND unmet_deps = 1 THEN 'queued' ELSE status END
WHERE job_id = :job_id
  AND seq IN (SELECT seq FROM task_deps WHERE job_id = :job_id AND dep_seq = :dep_seq)
"""
# Joined FROM the CTE, not `seq IN (...)`: without statistics SQLite would
# rather scan all of the job's tasks than trust a recursive CTE to be small.
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


def record_updates(
    conn: sqlite3.Connection,
    job_id: str,
    updates: Sequence[TaskUpdate],
    claimed: Mapping[int, str],
) -> list[str]:
    """Apply a batch of updates; return the ids of tasks skipped by propagation.

    ``claimed`` (seq -> runner id) holds the claims not started yet: the
    lease of a task whose finish arrives without its start.
    """
    has_dependencies = (
        conn.execute("SELECT 1 FROM task_deps WHERE job_id = ? LIMIT 1", (job_id,)).fetchone()
        is not None
    )
    if not has_dependencies:
        _write_rounds(conn, job_id, plan_rounds(updates), claimed)
        return []
    skipped: list[str] = []
    for segment in _segments(conn, job_id, updates):
        rounds = plan_rounds(segment)
        _write_rounds(conn, job_id, rounds, claimed)
        ended = sorted((item for round_ in rounds for item in round_.ended), key=lambda i: i[0])
        if ended:
            skipped += _propagate(conn, job_id, [finished for _, finished in ended])
    return skipped


def _segments(
    conn: sqlite3.Connection, job_id: str, updates: Sequence[TaskUpdate]
) -> list[Sequence[TaskUpdate]]:
    """Cut the batch after each failure that skips dependants (``record_plan.cut_after``)."""
    failing = failing_positions(updates)
    if not failing:
        return [updates]
    params = (job_id, encode_json([seq for _, seq in failing]))
    with_dependants = {row[0] for row in conn.execute(_ENDED_WITH_DEPENDANTS, params)}
    return cut_after(updates, failing, with_dependants)


def _write_rounds(
    conn: sqlite3.Connection, job_id: str, rounds: list[Round], claimed: Mapping[int, str]
) -> None:
    for round_ in rounds:
        _record_starts(conn, job_id, round_.starts)
        _record_finishes(conn, job_id, round_.finishes, claimed)
        _record_whole_attempts(conn, job_id, round_.whole_attempts)


def _record_starts(conn: sqlite3.Connection, job_id: str, starts: list[AttemptStarted]) -> None:
    if not starts:
        return
    conn.executemany(
        _START_TASK, [(s.attempt, s.started_at, s.runner_id, job_id, s.seq) for s in starts]
    )
    conn.executemany(
        _RECORD_ATTEMPT,
        [(job_id, s.seq, s.attempt, s.runner_id, s.started_at, None, None, None) for s in starts],
    )


def _record_whole_attempts(
    conn: sqlite3.Connection, job_id: str, runs: list[AttemptFinished]
) -> None:
    """Write finishes that carry their start (``runner_id``, ``started_at``)."""
    if not runs:
        return
    rows: list[tuple[Any, ...]] = []
    archived: list[tuple[Any, ...]] = []
    for f in runs:
        if f.status in FINAL_TASK_STATES:
            rows.append(
                (f.attempt, f.started_at, f.runner_id, f.attempt_outcome, *_finish_row(job_id, f))
            )
            continue
        rows.append((f.attempt, f.started_at, None, None, *_finish_row(job_id, f, f.runner_id)))
        archived.append(
            (
                job_id,
                f.seq,
                f.attempt,
                f.runner_id,
                f.started_at,
                f.finished_at,
                f.attempt_outcome,
                f.error,
            )
        )
    conn.executemany(_RUN_TASK, rows)
    if archived:
        conn.executemany(_RECORD_ATTEMPT, archived)


def _record_finishes(
    conn: sqlite3.Connection,
    job_id: str,
    finishes: list[AttemptFinished],
    claimed: Mapping[int, str],
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
                    claimed.get(f.seq),
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
    conn.executemany(_FINISH_TASK, [_finish_row(job_id, f, claimed.get(f.seq)) for f in finishes])


def _finish_row(
    job_id: str, finished: AttemptFinished, runner_id: str | None = None
) -> tuple[Any, ...]:
    """Parameters of _FINISH_SET; ``runner_id`` is the lease holder if not stored yet."""
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
        runner_id,
        job_id,
        finished.seq,
    )


def _propagate(conn: sqlite3.Connection, job_id: str, ended: list[AttemptFinished]) -> list[str]:
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
