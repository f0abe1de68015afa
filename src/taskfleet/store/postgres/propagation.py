"""Dependency propagation in a PostgreSQL group commit: successes count down, failures skip.

When a task ends for good, its dependants learn it within the same
transaction: a success takes one unmet dependency off each (a pending
dependant with none left becomes queued); any other end skips every task
downstream. ``record`` calls these after writing each segment of a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from taskfleet.model import AttemptFinished, TaskStatus, TaskUpdate
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.record_plan import cut_after, failing_positions
from taskfleet.store.common.transitions import allowed_task_sources, checked_task_sources
from taskfleet.store.postgres.schema import Connection

__all__ = ["propagate", "segments"]

_QUERIES = load_queries("taskfleet.store.postgres")
_TASKS_WITH_DEPENDANTS = _QUERIES["tasks_with_dependants"]
_COUNT_MET_DEPENDENCIES = _QUERIES["count_met_dependencies"]
_SATISFY_DEPENDANTS = _QUERIES["satisfy_dependants"]
_SKIP_DEPENDANTS = _QUERIES["skip_dependants"]


async def segments(
    conn: Connection, job_id: str, updates: Sequence[TaskUpdate]
) -> list[Sequence[TaskUpdate]]:
    """Cut the batch after each failure that skips dependants (``record_plan.cut_after``)."""
    failing = failing_positions(updates)
    if not failing:
        return [updates]
    with_dependants = await _with_dependants(conn, job_id, [seq for _, seq in failing])
    return cut_after(updates, failing, with_dependants)


async def propagate(conn: Connection, job_id: str, ended: list[AttemptFinished]) -> list[str]:
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
        # A skip must see the successes before it, as if applied one by one.
        await _satisfy(conn, job_id, succeeded)
        reason = f"dependency '{task_ids[finished.seq]}' ended {finished.status.value}"
        skipped += await _skip(conn, job_id, finished, reason)
    await _satisfy(conn, job_id, succeeded)
    return skipped


async def _with_dependants(conn: Connection, job_id: str, seqs: list[int]) -> dict[int, str]:
    """Of ``seqs``, those some task depends on, with their task ids."""
    cursor = await conn.execute(_TASKS_WITH_DEPENDANTS, {"job_id": job_id, "seqs": seqs})
    return {row[0]: row[1] for row in await cursor.fetchall()}


async def _satisfy(conn: Connection, job_id: str, succeeded: list[int]) -> None:
    """Count down the dependants of ``succeeded`` (then empty it)."""
    if not succeeded:
        return
    cursor = await conn.execute(_COUNT_MET_DEPENDENCIES, {"job_id": job_id, "seqs": succeeded})
    met = await cursor.fetchall()
    succeeded.clear()
    if met:
        [pending] = checked_task_sources([TaskStatus.PENDING], TaskStatus.QUEUED)
        params = {
            "job_id": job_id,
            "seqs": [m[0] for m in met],
            "met": [m[1] for m in met],
            "pending": pending,
            "queued": TaskStatus.QUEUED.value,
        }
        await conn.execute(_SATISFY_DEPENDANTS, params)


async def _skip(conn: Connection, job_id: str, ended: AttemptFinished, reason: str) -> list[str]:
    """Skip every unfinished task downstream of ``ended``; their ids in input order."""
    # Whatever the graph reaches; a task already ended keeps its end.
    open_sources = [
        state
        for state in allowed_task_sources(TaskStatus.SKIPPED)
        if not TaskStatus(state).is_final
    ]
    params = {
        "job_id": job_id,
        "dep_seq": ended.seq,
        "error": reason,
        "now": ended.finished_at,
        "status": TaskStatus.SKIPPED.value,
        "from_statuses": open_sources,
    }
    cursor = await conn.execute(_SKIP_DEPENDANTS, params)
    return [task_id for _, task_id in sorted(await cursor.fetchall())]
