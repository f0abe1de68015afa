"""Job ids as people type them: ``last`` (the newest job) or any unique prefix of an id.

Every interface that takes a job from a person resolves it here first, so
``status last`` and ``status job-2026`` mean the same everywhere.
"""

from __future__ import annotations

from taskfleet.errors import JobNotFound, NotFound, UsageError
from taskfleet.store.base import Store

__all__ = ["LAST_JOB", "MAX_CANDIDATES_SHOWN", "resolve_job_id"]

LAST_JOB = "last"
MAX_CANDIDATES_SHOWN = 5


async def resolve_job_id(store: Store, typed: str) -> str:
    """The id of the job that ``typed`` names: an id, ``last``, or a unique prefix of an id.

    An exact id wins over ``last`` and over being the prefix of longer ids.
    Raises JobNotFound when nothing matches, UsageError naming the candidates
    when a prefix fits several jobs.
    """
    # One more than is shown, to know whether there are more than shown.
    candidates = await store.job_ids_starting_with(typed, limit=MAX_CANDIDATES_SHOWN + 1)
    if typed in candidates:
        return typed
    if typed == LAST_JOB:
        return await _newest_job_id(store)
    if not typed or not candidates:
        raise JobNotFound(typed)
    if len(candidates) == 1:
        return candidates[0]
    shown = ", ".join(candidates[:MAX_CANDIDATES_SHOWN])
    more = ", ..." if len(candidates) > MAX_CANDIDATES_SHOWN else ""
    raise UsageError(
        f"job id prefix '{typed}' is ambiguous: it matches {shown}{more}; type more of the id"
    )


async def _newest_job_id(store: Store) -> str:
    newest = await store.list_jobs(limit=1)
    if not newest:
        raise NotFound(f"no job yet: '{LAST_JOB}' names the newest job")
    return newest[0].job_id
