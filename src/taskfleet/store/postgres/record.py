"""Group commits for the PostgreSQL store: ``record`` and dependency propagation.

A batch is split into rounds as in the SQLite store (``sqlite_record.plan_rounds``:
each task is written at most once per round) and each round is written with
a few statements over ``unnest``-ed arrays, whatever its size: one round trip
per statement, not per task. Unlike SQLite's schema v2, every attempt gets a
row in ``attempts``: PostgreSQL's cost is the round trip, not the row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from taskfleet.model import (
    FINAL_TASK_STATES,
    AttemptFinished,
    AttemptStarted,
    TaskStatus,
    TaskUpdate,
)
from taskfleet.store.common.record_plan import cut_after, failing_positions, plan_rounds
from taskfleet.store.common.rows import encode_json
from taskfleet.store.postgres.schema import Connection

_FINAL_SQL = ", ".join(f"'{status.value}'" for status in sorted(FINAL_TASK_STATES))

# Every statement that joins a batch's arrays to tasks also says
# `t.seq = ANY(seqs)`: whatever join the planner picks (its row estimates for
# a new job are poor), it reads the batch's rows by key, never all of the job's.
_HAS_DEPENDENCIES = "SELECT EXISTS (SELECT 1 FROM task_deps WHERE job_id = %s)"
_START_TASKS = """
UPDATE tasks AS t SET status = 'running', attempts = u.attempt, started_at = u.started_at,
    finished_at = NULL, lease_owner = u.runner_id
FROM unnest(%(seqs)s::bigint[], %(attempts)s::int[], %(started_at)s::float8[],
    %(runners)s::text[]) AS u (seq, attempt, started_at, runner_id)
WHERE t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq
"""
# Started attempts, and attempts that started and ended within the batch.
_OPEN_ATTEMPTS = """
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT t.job_id, t.seq, u.attempt, u.runner_id, u.started_at, u.finished_at, u.outcome, u.error
FROM unnest(%(seqs)s::bigint[], %(attempts)s::int[], %(runners)s::text[],
    %(started_at)s::float8[], %(finished_at)s::float8[], %(outcomes)s::text[],
    %(errors)s::text[]) AS u (seq, attempt, runner_id, started_at, finished_at, outcome, error)
JOIN tasks AS t ON t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq
ON CONFLICT (job_id, seq, number) DO UPDATE SET runner_id = EXCLUDED.runner_id,
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
    outcome = EXCLUDED.outcome, error = EXCLUDED.error
"""
# Ends of attempts started in an earlier batch. Runs before _FINISH_TASKS reads
# the lease: when the start was never recorded, the lease holder (stored, or
# the claim's) is the best guess at the runner, and the duration gives the start.
_CLOSE_ATTEMPTS = """
INSERT INTO attempts (job_id, seq, number, runner_id, started_at, finished_at, outcome, error)
SELECT t.job_id, t.seq, u.attempt, COALESCE(t.lease_owner, u.claimed_by, ''),
    u.finished_at - u.duration_s, u.finished_at, u.outcome, u.error
FROM unnest(%(seqs)s::bigint[], %(attempts)s::int[], %(claimed_by)s::text[],
    %(finished_at)s::float8[], %(durations)s::float8[], %(outcomes)s::text[],
    %(errors)s::text[]) AS u (seq, attempt, claimed_by, finished_at, duration_s, outcome, error)
JOIN tasks AS t ON t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq
ON CONFLICT (job_id, seq, number) DO UPDATE SET finished_at = EXCLUDED.finished_at,
    outcome = EXCLUDED.outcome, error = EXCLUDED.error
"""
# A start in the same round (start_runner set) makes it one write of a whole
# attempt. A pending task waits for its retry under the same runner: it keeps the lease.
_FINISH_TASKS = """
UPDATE tasks AS t SET status = u.status, result = u.result, error = u.error,
    finished_at = u.finished_at, duration_s = u.duration_s, failures = u.failures,
    not_before = u.not_before,
    attempts = COALESCE(u.started_attempt, t.attempts),
    started_at = CASE WHEN u.started_attempt IS NULL THEN t.started_at ELSE u.started_at END,
    lease_owner = CASE WHEN u.releases THEN NULL
        ELSE COALESCE(u.start_runner, t.lease_owner, u.claimed_by) END
FROM unnest(%(seqs)s::bigint[], %(statuses)s::text[], %(results)s::text[], %(errors)s::text[],
    %(finished_at)s::float8[], %(durations)s::float8[], %(failures)s::int[],
    %(not_before)s::float8[], %(releases)s::bool[], %(started_attempts)s::int[],
    %(started_at)s::float8[], %(start_runners)s::text[], %(claimed_by)s::text[])
    AS u (seq, status, result, error, finished_at, duration_s, failures, not_before, releases,
        started_attempt, started_at, start_runner, claimed_by)
WHERE t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq
"""
# Driven by the batch's seqs, one index probe each (LIMIT 1 keeps the planner
# from turning it into a semi-join over every edge of the job).
_WITH_DEPENDANTS = """
SELECT s.seq, t.task_id FROM unnest(%(seqs)s::bigint[]) AS s (seq)
CROSS JOIN LATERAL (
    SELECT 1 FROM task_deps AS d WHERE d.job_id = %(job_id)s AND d.dep_seq = s.seq LIMIT 1
) AS has_dependants
JOIN tasks AS t ON t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = s.seq
"""
# Successes count down their dependants in two steps: how many each dependant
# lost (by the dep index), then one update by key. SET reads the old row, so
# the CASE sees the count before.
_MET_DEPENDENCIES = """
SELECT d.seq, count(*) FROM unnest(%(seqs)s::bigint[]) AS s (dep_seq)
JOIN task_deps AS d ON d.job_id = %(job_id)s AND d.dep_seq = ANY(%(seqs)s::bigint[])
    AND d.dep_seq = s.dep_seq
GROUP BY d.seq
"""
_SATISFY_DEPENDANTS = """
UPDATE tasks AS t SET unmet_deps = GREATEST(t.unmet_deps - u.met, 0),
    status = CASE WHEN t.status = 'pending' AND t.unmet_deps > 0 AND t.unmet_deps <= u.met
        THEN 'queued' ELSE t.status END
FROM unnest(%(seqs)s::bigint[], %(met)s::int[]) AS u (seq, met)
WHERE t.job_id = %(job_id)s AND t.seq = ANY(%(seqs)s::bigint[]) AND t.seq = u.seq
"""
SKIP_DEPENDANTS = f"""
WITH RECURSIVE dependants (seq) AS (
    SELECT seq FROM task_deps WHERE job_id = %(job_id)s AND dep_seq = %(dep_seq)s
    UNION
    SELECT d.seq FROM task_deps AS d JOIN dependants AS p ON d.dep_seq = p.seq
    WHERE d.job_id = %(job_id)s
)
UPDATE tasks SET status = 'skipped', error = %(error)s, finished_at = %(now)s, lease_owner = NULL
FROM dependants AS p
WHERE tasks.job_id = %(job_id)s AND tasks.seq = p.seq AND tasks.status NOT IN ({_FINAL_SQL})
RETURNING tasks.seq, tasks.task_id
"""


def clean_text(text: str | None) -> str | None:
    """``text`` without NUL characters, which a PostgreSQL TEXT value cannot hold."""
    return text.replace("\x00", "\ufffd") if text and "\x00" in text else text


async def record_updates(
    conn: Connection, job_id: str, updates: Sequence[TaskUpdate], claimed: Mapping[int, str]
) -> list[str]:
    """Apply a batch of updates; return the ids of tasks skipped by propagation.

    ``claimed`` (seq -> runner id) holds the claims not started yet: the
    lease of a task whose finish arrives without its start.
    """
    cursor = await conn.execute(_HAS_DEPENDENCIES, (job_id,))
    row = await cursor.fetchone()
    if row is None or not row[0]:
        await _write_rounds(conn, job_id, updates, claimed)
        return []
    skipped: list[str] = []
    for segment in await _segments(conn, job_id, updates):
        await _write_rounds(conn, job_id, segment, claimed)
        ended = [
            update
            for update in segment
            if isinstance(update, AttemptFinished) and update.status in FINAL_TASK_STATES
        ]
        if ended:
            skipped += await _propagate(conn, job_id, ended)
    return skipped


async def _with_dependants(conn: Connection, job_id: str, seqs: list[int]) -> dict[int, str]:
    cursor = await conn.execute(_WITH_DEPENDANTS, {"job_id": job_id, "seqs": seqs})
    return {row[0]: row[1] for row in await cursor.fetchall()}


async def _segments(
    conn: Connection, job_id: str, updates: Sequence[TaskUpdate]
) -> list[Sequence[TaskUpdate]]:
    """Cut the batch after each failure that skips dependants (``record_plan.cut_after``)."""
    failing = failing_positions(updates)
    if not failing:
        return [updates]
    with_dependants = await _with_dependants(conn, job_id, [seq for _, seq in failing])
    return cut_after(updates, failing, with_dependants)


async def _write_rounds(
    conn: Connection, job_id: str, updates: Sequence[TaskUpdate], claimed: Mapping[int, str]
) -> None:
    for round_ in plan_rounds(updates):
        whole = round_.whole_attempts
        if round_.starts:
            await conn.execute(_START_TASKS, _start_params(job_id, round_.starts))
        if round_.starts or whole:
            opened = [(s, None) for s in round_.starts] + [(_start_of(f), f) for f in whole]
            await conn.execute(_OPEN_ATTEMPTS, _attempt_params(job_id, opened))
        if round_.finishes:
            await conn.execute(_CLOSE_ATTEMPTS, _close_params(job_id, round_.finishes, claimed))
        if round_.finishes or whole:
            finished = [(None, f) for f in round_.finishes] + [(_start_of(f), f) for f in whole]
            await conn.execute(_FINISH_TASKS, _finish_params(job_id, finished, claimed))


def _start_of(run: AttemptFinished) -> AttemptStarted:
    """The start a run (a finish that carries its start) stands for."""
    assert run.runner_id is not None and run.started_at is not None
    return AttemptStarted(run.seq, run.attempt, run.runner_id, run.started_at)


def _start_params(job_id: str, starts: list[AttemptStarted]) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "seqs": [s.seq for s in starts],
        "attempts": [s.attempt for s in starts],
        "started_at": [s.started_at for s in starts],
        "runners": [s.runner_id for s in starts],
    }


def _attempt_params(
    job_id: str, opened: Sequence[tuple[AttemptStarted, AttemptFinished | None]]
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "seqs": [s.seq for s, _ in opened],
        "attempts": [s.attempt for s, _ in opened],
        "runners": [s.runner_id for s, _ in opened],
        "started_at": [s.started_at for s, _ in opened],
        "finished_at": [f and f.finished_at for _, f in opened],
        "outcomes": [f and f.attempt_outcome for _, f in opened],
        "errors": [f and clean_text(f.error) for _, f in opened],
    }


def _close_params(
    job_id: str, finishes: list[AttemptFinished], claimed: Mapping[int, str]
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "seqs": [f.seq for f in finishes],
        "attempts": [f.attempt for f in finishes],
        "claimed_by": [claimed.get(f.seq) for f in finishes],
        "finished_at": [f.finished_at for f in finishes],
        "durations": [f.duration_s for f in finishes],
        "outcomes": [f.attempt_outcome for f in finishes],
        "errors": [clean_text(f.error) for f in finishes],
    }


def _finish_params(
    job_id: str,
    finished: Sequence[tuple[AttemptStarted | None, AttemptFinished]],
    claimed: Mapping[int, str],
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "seqs": [f.seq for _, f in finished],
        "statuses": [f.status.value for _, f in finished],
        "results": [None if f.result is None else encode_json(f.result) for _, f in finished],
        "errors": [clean_text(f.error) for _, f in finished],
        "finished_at": [f.finished_at for _, f in finished],
        "durations": [f.duration_s for _, f in finished],
        "failures": [f.failures for _, f in finished],
        "not_before": [f.not_before for _, f in finished],
        "releases": [
            f.status in FINAL_TASK_STATES or f.status is TaskStatus.QUEUED for _, f in finished
        ],
        "started_attempts": [s and s.attempt for s, _ in finished],
        "started_at": [s and s.started_at for s, _ in finished],
        "start_runners": [s and s.runner_id for s, _ in finished],
        "claimed_by": [claimed.get(f.seq) for _, f in finished],
    }


async def _propagate(conn: Connection, job_id: str, ended: list[AttemptFinished]) -> list[str]:
    """Dependants of ended tasks, in batch order: successes count down, the rest skip."""
    task_ids = await _with_dependants(conn, job_id, [f.seq for f in ended])
    skipped: list[str] = []
    succeeded: list[int] = []
    for finished in ended:
        if finished.seq not in task_ids:
            continue
        if finished.status is TaskStatus.SUCCEEDED:
            succeeded.append(finished.seq)
            continue
        await _satisfy(conn, job_id, succeeded)
        params = {
            "job_id": job_id,
            "dep_seq": finished.seq,
            "error": f"dependency '{task_ids[finished.seq]}' ended {finished.status.value}",
            "now": finished.finished_at,
        }
        cursor = await conn.execute(SKIP_DEPENDANTS, params)
        skipped += [task_id for _, task_id in sorted(await cursor.fetchall())]
    await _satisfy(conn, job_id, succeeded)
    return skipped


async def _satisfy(conn: Connection, job_id: str, succeeded: list[int]) -> None:
    if succeeded:
        cursor = await conn.execute(_MET_DEPENDENCIES, {"job_id": job_id, "seqs": succeeded})
        met = await cursor.fetchall()
        succeeded.clear()
        if met:
            params = {"job_id": job_id, "seqs": [m[0] for m in met], "met": [m[1] for m in met]}
            await conn.execute(_SATISFY_DEPENDANTS, params)
