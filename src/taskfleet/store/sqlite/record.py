"""Group commits for the SQLite store: ``record_attempts`` and dependency propagation.

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
    AttemptOutcome,
    AttemptStarted,
    TaskStatus,
    TaskUpdate,
)
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.record_plan import Round, cut_after, failing_positions, plan_rounds
from taskfleet.store.common.rows import encode_json
from taskfleet.store.common.transitions import TaskStatusGate, checked_task_sources

_QUERIES = load_queries("taskfleet.store.sqlite")
_JOB_HAS_DEPENDENCIES = _QUERIES["job_has_dependencies"]
_START_TASK = _QUERIES["start_task"]
_RECORD_ATTEMPT = _QUERIES["record_attempt"]
_RECORD_ATTEMPT_NOT_IN_ROW = _QUERIES["record_attempt_not_in_row"]
_CLOSE_ATTEMPT = _QUERIES["close_attempt"]
_CLOSE_UNSTARTED_ATTEMPT = _QUERIES["close_unstarted_attempt"]
_FINISH_TASK = _QUERIES["finish_task"]
_RUN_TASK = _QUERIES["run_task"]
_ENDED_WITH_DEPENDANTS = _QUERIES["ended_with_dependants"]
_SATISFY_DEPENDANTS = _QUERIES["satisfy_dependants"]
_SKIP_DEPENDANTS = _QUERIES["skip_dependants"]

_S = TaskStatus
# The changes these statements make, as their WHERE clauses admit them. An
# attempt starts from pending or queued. It ends from running, or from pending
# or queued when its start was not written (run_task, or a lost start): the
# row then goes through running in one write, and the start is checked above.
checked_task_sources([_S.PENDING, _S.QUEUED], _S.RUNNING)  # start_task
_ENDED_STATUS_VALUES = TaskStatusGate([_S.RUNNING])  # finish_task, run_task: the new status
checked_task_sources([_S.PENDING], _S.QUEUED)  # satisfy_dependants
checked_task_sources([_S.PENDING, _S.QUEUED], _S.SKIPPED)  # skip_dependants

# Outcomes are bound as their plain values: cheaper to bind than an enum, on the hot path.
_OUTCOME_VALUES: dict[str, str] = {outcome: outcome.value for outcome in AttemptOutcome}


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
    has_dependencies = conn.execute(_JOB_HAS_DEPENDENCIES, (job_id,)).fetchone() is not None
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
    """Write finishes that carry their start (``runner_id``, ``started_at``).

    A final one keeps its attempt in the task row; any other one also writes
    an attempts row, since the task's next attempt will take the row's place.
    """
    if not runs:
        return
    rows: list[tuple[Any, ...]] = []
    in_rows: list[AttemptFinished] = []
    archived: list[tuple[Any, ...]] = []
    for f in runs:
        if f.status in FINAL_TASK_STATES:
            outcome = _OUTCOME_VALUES[f.attempt_outcome]
            rows.append((f.attempt, f.started_at, f.runner_id, outcome, *_finish_row(job_id, f)))
            in_rows.append(f)
        else:
            rows.append((f.attempt, f.started_at, None, None, *_finish_row(job_id, f, f.runner_id)))
            archived.append(_attempt_row(job_id, f))
    if conn.executemany(_RUN_TASK, rows).rowcount < len(rows) and in_rows:
        # Some task ended meanwhile (cancelled by another process): its row
        # kept its status, so the attempt goes to attempts, not to the row.
        archived += [_attempt_row(job_id, f) for f in in_rows]
        conn.executemany(_RECORD_ATTEMPT_NOT_IN_ROW, [(*row, *row[:3]) for row in archived])
    elif archived:
        conn.executemany(_RECORD_ATTEMPT, archived)


def _attempt_row(job_id: str, f: AttemptFinished) -> tuple[Any, ...]:
    """Parameters of record_attempt for a whole attempt."""
    outcome = _OUTCOME_VALUES[f.attempt_outcome]
    return (job_id, f.seq, f.attempt, f.runner_id, f.started_at, f.finished_at, outcome, f.error)


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
        [
            (f.finished_at, _OUTCOME_VALUES[f.attempt_outcome], f.error, job_id, f.seq, f.attempt)
            for f in finishes
        ],
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
                    _OUTCOME_VALUES[f.attempt_outcome],
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
    """Parameters of finish_task (and run_task's after its first four).

    ``runner_id`` is the lease holder, for a task whose lease is not stored yet.
    """
    # A pending task waits for its retry under the same runner: it keeps the lease.
    releases = finished.status in FINAL_TASK_STATES or finished.status is TaskStatus.QUEUED
    return (
        _ENDED_STATUS_VALUES[finished.status],
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
