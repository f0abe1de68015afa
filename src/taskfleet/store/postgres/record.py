"""Group commits for the PostgreSQL store: a batch of attempt starts and ends, written.

A batch is split into rounds as in the SQLite store (``record_plan.plan_rounds``:
each task is written at most once per round) and each round is written with
a few statements over ``unnest``-ed arrays, whatever its size: one round trip
per statement, not per task. Unlike SQLite's schema v2, every attempt gets a
row in ``attempts``: PostgreSQL's cost is the round trip, not the row.
Dependants learn of ended tasks in ``propagation``.
"""

from __future__ import annotations

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
from taskfleet.store.common.record_plan import plan_rounds
from taskfleet.store.common.rows import encode_json
from taskfleet.store.common.transitions import checked_task_sources
from taskfleet.store.postgres.propagation import propagate, segments
from taskfleet.store.postgres.schema import Connection

__all__ = ["clean_text", "record_updates"]

_QUERIES = load_queries("taskfleet.store.postgres")
_JOB_HAS_DEPENDENCIES = _QUERIES["job_has_dependencies"]
_START_TASKS = _QUERIES["start_tasks"]
_OPEN_ATTEMPTS = _QUERIES["open_attempts"]
_CLOSE_ATTEMPTS = _QUERIES["close_attempts"]
_FINISH_TASKS = _QUERIES["finish_tasks"]

# A claimed task starts from queued or pending; one that runs already is written
# again (no change of state). A task that ended meanwhile is left as it is.
_STARTABLE_STATES = (TaskStatus.QUEUED, TaskStatus.PENDING, TaskStatus.RUNNING)
# attempts.outcome as written: an unknown outcome is a KeyError, never a stored typo.
# Keyed by the enum, so its plain string value finds the same entry.
_OUTCOME_VALUES: Mapping[str, str] = {outcome: outcome.value for outcome in AttemptOutcome}


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
    cursor = await conn.execute(_JOB_HAS_DEPENDENCIES, (job_id,))
    row = await cursor.fetchone()
    if row is None or not row[0]:
        await _write_rounds(conn, job_id, updates, claimed)
        return []
    skipped: list[str] = []
    for segment in await segments(conn, job_id, updates):
        await _write_rounds(conn, job_id, segment, claimed)
        ended = [
            update
            for update in segment
            if isinstance(update, AttemptFinished) and update.status in FINAL_TASK_STATES
        ]
        if ended:
            skipped += await propagate(conn, job_id, ended)
    return skipped


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


def _finishable_states(
    finished: Sequence[tuple[AttemptStarted | None, AttemptFinished]],
) -> list[str]:
    """The states finish_tasks takes a task from, each of the batch's changes checked.

    A task ends from running. One claimed whose start is in the same write,
    or was never recorded, goes from queued or pending through running.
    """
    for target in {f.status for _, f in finished}:
        checked_task_sources([TaskStatus.RUNNING], target)
    return checked_task_sources(_STARTABLE_STATES, TaskStatus.RUNNING)


def _start_params(job_id: str, starts: list[AttemptStarted]) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "seqs": [s.seq for s in starts],
        "attempts": [s.attempt for s in starts],
        "started_at": [s.started_at for s in starts],
        "runners": [s.runner_id for s in starts],
        "status": TaskStatus.RUNNING.value,
        "from_statuses": checked_task_sources(_STARTABLE_STATES, TaskStatus.RUNNING),
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
        "outcomes": [f and _OUTCOME_VALUES[f.attempt_outcome] for _, f in opened],
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
        "outcomes": [_OUTCOME_VALUES[f.attempt_outcome] for f in finishes],
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
        "from_statuses": _finishable_states(finished),
    }
