"""``/jobs``, ``/stats`` and ``/healthz``: the REST API of SPEC section 7."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from taskfleet import service
from taskfleet.model import TaskStatus
from taskfleet.server import render
from taskfleet.server.context import (
    ContextDep,
    JobPageDep,
    StoreDep,
)
from taskfleet.server.events import event_response
from taskfleet.server.models import (
    Health,
    JobCreate,
    JobList,
    JobOut,
    TaskDetail,
    TaskList,
)
from taskfleet.service.results import iter_results
from taskfleet.service.transcripts import task_transcript
from taskfleet.store.base import Store

router = APIRouter()
MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "json": "application/json",
    "csv": "text/csv",
    "openai-batch": "application/x-ndjson",
}


async def job_object(store: Store, job_id: str) -> dict[str, Any]:
    """The job object of one job (404 if unknown)."""
    report, progress = await service.job_progress(store, job_id)
    return render.job_object(report, progress)


@router.get("/healthz", response_model=Health, tags=["server"])
async def healthz() -> dict[str, Any]:
    """Liveness; the one route that needs no token."""
    return {"status": "ok", "version": version("taskfleet")}


@router.post("/jobs", status_code=201, response_model=JobOut, tags=["jobs"])
async def create_job(body: JobCreate, context: ContextDep) -> dict[str, Any]:
    """Check the tasks as a task file is checked and queue them as a job."""
    if context.no_shell and body.validate_cmd:
        raise_field("validate", "a validation command is turned off on this server (--no-shell)")
    store = context.open_store()
    job = await service.submit(
        store,
        body.tasks,
        body.with_merge(context.job_options(body.overrides())),
        context.task_rules,
        source_name="<body>",
        job_id=body.id,
        name=body.name,
        allow_empty=body.allow_empty,
    )
    context.wake_worker()
    return await job_object(store, job.job_id)


def raise_field(field: str, message: str) -> None:
    """A 422 naming one field of the body."""
    from fastapi.exceptions import RequestValidationError

    raise RequestValidationError(
        [{"loc": ["body", field], "msg": message, "type": "value_error", "field": field}]
    )


@router.get("/jobs", response_model=JobList, tags=["jobs"])
async def list_jobs(
    store: StoreDep,
    page: JobPageDep,
) -> dict[str, Any]:
    """Jobs, newest first, with their progress."""
    reports, total = await service.list_reports_page(
        store, status=page.status, limit=page.limit, offset=page.offset
    )
    jobs = [
        render.job_object(report, await service.report_progress(store, report))
        for report in reports
    ]
    return {"jobs": jobs, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
async def get_job(job_id: str, store: StoreDep) -> dict[str, Any]:
    """One job: state, counts and the progress block."""
    return await job_object(store, job_id)


@router.get("/jobs/{job_id}/tasks", response_model=TaskList, tags=["tasks"])
async def list_tasks(
    job_id: str,
    store: StoreDep,
    status: Annotated[list[TaskStatus] | None, Query()] = None,
    search: str | None = None,
    after: Annotated[int, Query(ge=0, description="seq of the last task of the page before")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """A page of tasks in input order; filter by status (repeatable) and id substring."""
    tasks = await store.list_tasks(
        job_id, statuses=status, after_seq=after, limit=limit, search=search or None
    )
    next_after = tasks[-1].seq if len(tasks) == limit else None
    return {"tasks": [render.task_list_row(task) for task in tasks], "next_after": next_after}


@router.get("/jobs/{job_id}/tasks/{task_id}", response_model=TaskDetail, tags=["tasks"])
async def get_task(job_id: str, task_id: str, store: StoreDep) -> dict[str, Any]:
    """One task with its result, error, output and every attempt."""
    task, attempts = await service.task_detail(store, job_id, task_id)
    return render.task_detail(task, attempts)


@router.get("/jobs/{job_id}/tasks/{task_id}/transcript", tags=["tasks"])
async def get_transcript(job_id: str, task_id: str, store: StoreDep) -> dict[str, Any]:
    """An agent task's transcript: its newest entries (404 for a task without one)."""
    return await task_transcript(store, job_id, task_id)


@router.get("/jobs/{job_id}/results", tags=["jobs"])
async def results(
    job_id: str,
    store: StoreDep,
    format: Literal["jsonl", "json", "csv", "openai-batch"] = "jsonl",
    status: Annotated[list[TaskStatus] | None, Query()] = None,
) -> StreamingResponse:
    """One record per task in input order, streamed."""
    await service.get_job(store, job_id)  # 404 before the stream starts
    pieces = iter_results(service.iter_tasks(store, job_id, status), format)
    return StreamingResponse(pieces, media_type=MEDIA_TYPES[format])


@router.post("/jobs/{job_id}/cancel", response_model=JobOut, tags=["jobs"])
async def cancel(job_id: str, store: StoreDep) -> dict[str, Any]:
    """Cancel the job's queued and running tasks."""
    await service.cancel_job(store, job_id)
    return await job_object(store, job_id)


@router.post("/jobs/{job_id}/retry", response_model=JobOut, tags=["jobs"])
async def retry(job_id: str, context: ContextDep) -> dict[str, Any]:
    """Queue the failed, cancelled and skipped tasks again, with fresh retries."""
    store = context.open_store()
    await service.requeue_for_retry(store, job_id)
    context.wake_worker()
    return await job_object(store, job_id)


@router.get("/jobs/{job_id}/events", tags=["jobs"])
async def events(
    job_id: str,
    request: Request,
    store: StoreDep,
    last_event_id: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    """Server-sent events: ``task`` per state change, ``progress``, and ``end``."""
    await service.get_job(store, job_id)
    header = request.headers.get("last-event-id", "")
    after = int(header) if header.isdigit() else (last_event_id or 0)
    return event_response(store, job_id, after)


@router.get("/stats", tags=["server"])
async def stats(store: StoreDep) -> dict[str, Any]:
    """Jobs and tasks per status, and the throughput of running jobs."""
    return await service.store_stats(store)
