"""The FastAPI app: routers, error mapping, the dashboard's files and the in-process worker.

``create_app`` builds the app; its lifespan opens the store and starts a
worker in the same event loop, so ``taskfleet serve`` is one process that
accepts and runs jobs. The OpenAI-compatible Batch API lives under ``/v1``;
more routers plug in through ``extra_routers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from taskfleet.config.db_url import normalize_db_url
from taskfleet.config.settings import Settings
from taskfleet.errors import JobConflict, NotFound, TaskfileError, UsageError
from taskfleet.kinds import close_kinds
from taskfleet.server import routes_batch, routes_jobs, routes_openai
from taskfleet.server.auth import AuthAndBodyLimitMiddleware
from taskfleet.server.context import ServerContext
from taskfleet.service.worker import Worker
from taskfleet.store import open_store

__all__ = ["DEFAULT_BODY_LIMIT_BYTES", "create_app"]

DEFAULT_BODY_LIMIT_BYTES = 200 * 1_000_000
WORKER_STOP_GRACE_S = 5.0  # for running tasks to finish when the server stops
WORKER_KILL_WAIT_S = 15.0
log = logging.getLogger(__name__)


def _static_dir() -> Path:
    return Path(str(resources.files("taskfleet.server").joinpath("static")))


def create_app(
    settings: Settings | str,
    *,
    no_shell: bool = False,
    body_limit_bytes: int = DEFAULT_BODY_LIMIT_BYTES,
    token: str | None = None,
    root: str | None = None,
    run_worker: bool = True,
    worker_concurrency: int | None = None,
    worker_poll_s: float = 1.0,
    worker_stop_grace_s: float = WORKER_STOP_GRACE_S,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The app on the store of ``settings`` (or a store URL).

    ``token``: required as a bearer token on every route but ``/healthz``
    (default: the settings' ``api_token``). ``root``: working directory of
    submitted jobs (default: the current directory). ``run_worker``: run
    queued jobs in this process.
    """
    # One piece past 40 lines only for its keyword arguments: the body is the app's wiring.
    if isinstance(settings, str):
        url = normalize_db_url(settings, Path.cwd())
        settings = Settings(db=url, concurrency=os.cpu_count() or 1)
    root = os.path.abspath(root or os.getcwd())
    context = ServerContext(settings=settings, root=root, no_shell=no_shell)
    lifespan = _lifespan(
        context,
        run_worker=run_worker,
        worker_concurrency=worker_concurrency,
        worker_poll_s=worker_poll_s,
        worker_stop_grace_s=worker_stop_grace_s,
    )
    app = FastAPI(
        title="taskfleet",
        summary="Run large batches of tasks in parallel without losing any.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.context = context
    _add_error_handlers(app)
    _add_routes(app, extra_routers)
    app.add_middleware(
        AuthAndBodyLimitMiddleware,
        token=token if token is not None else settings.api_token,
        body_limit_bytes=body_limit_bytes,
    )
    return app


def _add_routes(app: FastAPI, extra_routers: Sequence[APIRouter]) -> None:
    """The REST API, the older batch API, the OpenAI Batch API, extras, and the dashboard."""
    app.include_router(routes_jobs.router)
    app.include_router(routes_batch.router)
    # The OpenAI-compatible Batch API, behind the same token check and body cap.
    app.include_router(routes_openai.router)
    for router in extra_routers:
        app.include_router(router)
    _add_dashboard(app)


def _lifespan(
    context: ServerContext,
    *,
    run_worker: bool,
    worker_concurrency: int | None,
    worker_poll_s: float,
    worker_stop_grace_s: float,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the store and start the worker while the app runs; stop and close after."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(context.settings.db)
        await store.open()
        context.store = store
        worker_task: asyncio.Task[None] | None = None
        worker = Worker(
            store,
            concurrency=worker_concurrency,
            poll_s=worker_poll_s,
            lease_s=context.settings.lease,
        )
        if run_worker:
            context.wake_worker = worker.wake.set
            worker_task = asyncio.create_task(worker.run(), name="taskfleet-worker")
        try:
            yield
        finally:
            if worker_task is not None:
                await _stop_worker(worker, worker_task, worker_stop_grace_s)
            context.store = None
            await store.close()
            await close_kinds()

    return lifespan


def _version() -> str:
    from importlib.metadata import version

    return version("taskfleet")


async def _stop_worker(worker: Worker, task: asyncio.Task[None], grace_s: float) -> None:
    """Stop the worker; its job is handed back as queued for the next worker.

    Running tasks get ``grace_s`` to finish, then they are killed (they run
    again later without spending a retry).
    """
    worker.stop()
    done, _ = await asyncio.wait({task}, timeout=grace_s)
    if not done:
        log.warning("killing the tasks still running after %.0f s", grace_s)
        worker.kill()
        done, _ = await asyncio.wait({task}, timeout=WORKER_KILL_WAIT_S)
    if not done:
        task.cancel()
    elif not task.cancelled() and task.exception() is not None:
        log.error("the worker failed", exc_info=task.exception())


def _add_dashboard(app: FastAPI) -> None:
    static = _static_dir()
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})


def _add_error_handlers(app: FastAPI) -> None:
    def error(status: int, detail: Any) -> JSONResponse:
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=status)

    @app.exception_handler(routes_openai.OpenAIError)
    async def openai_error(request: Request, exc: routes_openai.OpenAIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(JobConflict)
    async def conflict(request: Request, exc: JobConflict) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(TaskfileError)
    async def bad_tasks(request: Request, exc: TaskfileError) -> JSONResponse:
        return error(422, [_issue(issue) for issue in exc.issues])

    @app.exception_handler(UsageError)
    async def bad_usage(request: Request, exc: UsageError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for item in exc.errors():
            loc = [part for part in item.get("loc", ()) if part != "body"]
            field = ".".join(str(part) for part in loc) or None
            details.append({**item, "field": item.get("field", field)})
        return error(422, details)


def _issue(issue: Any) -> dict[str, Any]:
    """One task problem as a 422 detail: where (task index, field) and what."""
    index = None if issue.line is None else issue.line - 1
    loc: list[Any] = ["body", "tasks"]
    if index is not None:
        loc.append(index)
    if issue.field:
        loc.append(issue.field)
    return {
        "loc": loc,
        "index": index,
        "line": issue.line,
        "field": issue.field,
        "msg": issue.message,
        "type": "task_error",
    }
