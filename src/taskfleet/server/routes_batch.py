"""The older batch API (SPEC section 7), as thin aliases over the same service functions.

Each body becomes task objects that go through the same checks as a task
file: ``/batch/validation`` and ``/batch/tests`` make one shell task per
target, ``/batch/mcp-operations`` one fs task per operation.
``/batch/agent-tasks`` one agent task per coding task, in the server's
``--root`` repository (SPEC section 8).
"""

from __future__ import annotations

import shlex
import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from taskfleet import service
from taskfleet.server import render
from taskfleet.server.context import (
    ContextDep,
    JobPageDep,
    ServerContext,
    StoreDep,
)
from taskfleet.server.models import (
    BatchJob,
    BatchJobList,
    BatchMcpOperations,
    BatchTarget,
    BatchTests,
    BatchValidation,
)
from taskfleet.service.results import result_record
from taskfleet.store.base import Store

router = APIRouter(prefix="/batch", tags=["batch (older API)"])


def command_for(template: str, path: str) -> str:
    """``{path}`` in the command replaced by the quoted path, else the path appended."""
    quoted = shlex.quote(path)
    return template.replace("{path}", quoted) if "{path}" in template else f"{template} {quoted}"


def shell_tasks(targets: list[BatchTarget], template: str) -> list[dict[str, Any]]:
    """One shell task per target."""
    tasks: list[dict[str, Any]] = []
    for target in targets:
        task: dict[str, Any] = {"kind": "shell", "command": command_for(template, target.path)}
        if target.id is not None:
            task["id"] = target.id
        tasks.append(task)
    return tasks


def concurrency_for(parallel: int | bool) -> int | None:
    """``parallel``: true (the server's concurrency), false (one at a time) or a number."""
    if parallel is True:
        return None
    return 1 if parallel is False else max(int(parallel), 1)


class AgentTaskItem(BaseModel):
    """One coding task of ``POST /batch/agent-tasks``."""

    id: str | None = None
    description: str = Field(min_length=1)


class BatchAgentTasks(BaseModel):
    """``POST /batch/agent-tasks``: the older body as is, one agent task per item.

    ``chunk_size`` is accepted and has no effect (the runner pages through
    tasks itself); ``profile`` (ours, optional) picks an external agent CLI.
    """

    tasks: list[AgentTaskItem] = Field(min_length=1)
    chunk_size: int | None = None
    parallel: int | bool = True
    check_command: str | None = None
    max_loops: int | None = None
    coder_model: str | None = None
    reviewer_model: str | None = None
    profile: str | None = None


def agent_tasks(body: BatchAgentTasks) -> list[dict[str, Any]]:
    """One agent task per item, the body's loop settings on each."""
    shared: dict[str, Any] = {
        "check_command": body.check_command,
        "max_loops": body.max_loops,
        "model": body.coder_model,
        "reviewer_model": body.reviewer_model,
        "profile": body.profile,
    }
    shared = {key: value for key, value in shared.items() if value is not None}
    tasks = []
    for item in body.tasks:
        task = {"kind": "agent", "description": item.description, **shared}
        if item.id is not None:
            task["id"] = item.id
        tasks.append(task)
    return tasks


async def submit(
    context: ServerContext,
    tasks: list[dict[str, Any]],
    parallel: int | bool,
    job_id: str | None = None,
) -> dict[str, Any]:
    """Queue the tasks as a job and answer with the job in the batch shape."""
    store = context.open_store()
    options = context.job_options(service.JobOverrides(concurrency=concurrency_for(parallel)))
    job = await service.submit(
        store, tasks, options, context.task_rules, source_name="<body>", job_id=job_id
    )
    context.wake_worker()
    return await batch_job(store, job.job_id, with_results=False)


async def batch_job(store: Store, job_id: str, *, with_results: bool) -> dict[str, Any]:
    """One job in the batch shape; with its results records when asked."""
    report, progress = await service.job_progress(store, job_id)
    results = None
    if with_results:
        results = [result_record(task) async for task in service.iter_tasks(store, job_id)]
    return render.batch_job(report, progress, results)


@router.post("/validation", response_model=BatchJob)
async def validation(body: BatchValidation, context: ContextDep) -> dict[str, Any]:
    """Run ``check_command`` on every target, in parallel."""
    return await submit(context, shell_tasks(body.targets, body.check_command), body.parallel)


@router.post("/tests", response_model=BatchJob)
async def tests(body: BatchTests, context: ContextDep) -> dict[str, Any]:
    """Run ``test_command`` on every module, in parallel."""
    return await submit(context, shell_tasks(body.modules, body.test_command), body.parallel)


@router.post("/mcp-operations", response_model=BatchJob)
async def mcp_operations(body: BatchMcpOperations, context: ContextDep) -> dict[str, Any]:
    """File reads, writes, listings and commands inside the server's root, as fs tasks."""
    tasks = []
    for operation in body.operations:
        task: dict[str, Any] = {"kind": "fs", "op": operation.type}
        fields = operation.model_dump(exclude_none=True, exclude={"type"})
        tasks.append({**task, **fields})
    return await submit(context, tasks, body.parallel)


@router.post("/agent-tasks", response_model=BatchJob)
async def agent_tasks_route(body: BatchAgentTasks, context: ContextDep) -> dict[str, Any]:
    """Coding tasks as agent tasks in the server's root repository, one job."""
    job_id = f"batch_agent_tasks-{uuid.uuid4().hex[:12]}"
    return await submit(context, agent_tasks(body), body.parallel, job_id)


@router.get("/jobs", response_model=BatchJobList)
async def list_jobs(
    store: StoreDep,
    page: JobPageDep,
) -> dict[str, Any]:
    """Jobs, newest first (without their results records)."""
    reports, total = await service.list_reports_page(
        store, status=page.status, limit=page.limit, offset=page.offset
    )
    jobs = [
        render.batch_job(report, service.progress_block(report, None), None) for report in reports
    ]
    return {"jobs": jobs, "total": total}


@router.get("/jobs/{job_id}", response_model=BatchJob)
async def get_job(job_id: str, store: StoreDep) -> dict[str, Any]:
    """One job with every task's results record."""
    return await batch_job(store, job_id, with_results=True)


@router.delete("/jobs/{job_id}", response_model=BatchJob)
async def cancel_job(job_id: str, store: StoreDep) -> dict[str, Any]:
    """Cancel the job."""
    await service.cancel_job(store, job_id)
    return await batch_job(store, job_id, with_results=False)


@router.get("/stats")
async def stats(store: StoreDep) -> dict[str, Any]:
    """Counts in the older shape."""
    counts = await service.store_stats(store)
    jobs, tasks = counts["jobs"], counts["tasks"]
    return {
        "total_jobs": jobs["total"],
        "queued_jobs": jobs["queued"],
        "running_jobs": jobs["running"],
        "completed_jobs": jobs["completed"],
        "failed_jobs": jobs["failed"],
        "cancelled_jobs": jobs["cancelled"],
        "total_tasks": tasks["total"],
        "successful_tasks": tasks["succeeded"],
        "failed_tasks": tasks["failed"],
        "items_per_second": counts["items_per_second"],
    }
