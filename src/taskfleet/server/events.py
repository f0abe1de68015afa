"""``GET /jobs/{id}/events``: a job's task changes and progress as server-sent events.

The store is the source, not the runner: a job may be run by this server's
worker or by a ``taskfleet worker`` in another process, so the stream polls
the store's change log. Each ``task`` event's id is its change number, so a
client that reconnects with ``Last-Event-ID`` resumes exactly where it was.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from taskfleet import service
from taskfleet.service.results import iso
from taskfleet.store.base import Store

POLL_S = 0.25
PROGRESS_EVERY_S = 0.5  # at most one progress event this often
KEEPALIVE_S = 10.0  # a progress event even without changes, so proxies keep the stream
PAGE = 500


def sse(event: str, event_id: int, data: dict[str, Any]) -> str:
    """One server-sent event."""
    return f"event: {event}\nid: {event_id}\ndata: {json.dumps(data)}\n\n"


async def job_events(
    store: Store, job_id: str, after: int, *, poll_s: float = POLL_S
) -> AsyncIterator[str]:
    """Events of one job after change ``after``, until the job ends."""
    yield "retry: 1000\n\n"
    cursor = after
    changed = True  # the first progress event goes out at once
    last_progress = float("-inf")
    while True:
        # The job first: changes are written before a job's final status, so
        # once it has ended the changes read next are all there will be.
        job = await service.get_job(store, job_id)
        changes = await service.task_changes(store, job_id, after_change_seq=cursor, limit=PAGE)
        for change in changes:
            data = {
                "id": change.task_id,
                "status": change.status.value,
                "attempt": change.attempt,
                "error": change.error,
                "finished_at": iso(change.finished_at) if change.status.is_final else None,
            }
            yield sse("task", change.change_seq, data)
        if changes:
            cursor, changed = changes[-1].change_seq, True
        ended = job.status.is_final and len(changes) < PAGE
        now = time.monotonic()
        if ended and now - last_progress < PROGRESS_EVERY_S:
            await asyncio.sleep(PROGRESS_EVERY_S - (now - last_progress))
            now = time.monotonic()
        due = now - last_progress >= PROGRESS_EVERY_S
        if ended or (changed and due) or now - last_progress >= KEEPALIVE_S:
            _, progress = await service.job_progress(store, job_id)
            yield sse("progress", cursor, progress)
            changed, last_progress = False, now
        if ended:
            yield sse("end", cursor, {"status": job.status.value})
            return
        if len(changes) < PAGE:
            await asyncio.sleep(poll_s)


def event_response(store: Store, job_id: str, after: int) -> StreamingResponse:
    """The streaming response of the events route."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        job_events(store, job_id, after), media_type="text/event-stream", headers=headers
    )
