"""``/v1``: the OpenAI Batch API (files and batches), so the official SDKs work unchanged.

Routes parse and render only; ``taskfleet.service.openai_batches`` does the work.
Errors come in OpenAI's shape (``{"error": {"message", "type", "param",
"code"}}``) so an SDK raises its usual exceptions.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from taskfleet.errors import NotFound, TaskfileError, UsageError
from taskfleet.server.context import ContextDep, StoreDep
from taskfleet.service import openai_batches
from taskfleet.service.submit import JobOverrides

router = APIRouter(prefix="/v1", tags=["openai batch"])
T = TypeVar("T")


class BatchCreate(BaseModel):
    """The body of ``POST /v1/batches``, as the OpenAI API takes it."""

    input_file_id: str
    endpoint: str
    completion_window: str = "24h"
    metadata: dict[str, str] | None = Field(default=None)


class OpenAIError(Exception):
    """An error to answer in OpenAI's shape."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param

    def response(self) -> JSONResponse:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        error = {"message": self.message, "type": kind, "param": self.param, "code": None}
        return JSONResponse({"error": error}, status_code=self.status)


async def _answer(work: Awaitable[T]) -> T:
    """Await a service call; its errors become OpenAI-shaped ones."""
    try:
        return await work
    except NotFound as exc:
        raise OpenAIError(404, str(exc)) from exc
    except TaskfileError as exc:
        first = exc.issues[0] if exc.issues else None
        raise OpenAIError(400, str(exc), first.field if first else None) from exc
    except UsageError as exc:
        raise OpenAIError(400, str(exc)) from exc


@router.post("/files")
async def create_file(
    store: StoreDep,
    file: Annotated[UploadFile, File()],
    purpose: Annotated[str, Form()],
) -> dict[str, Any]:
    """Upload a file (``purpose=batch`` for a batch's input)."""
    content = await file.read()
    name = file.filename or "upload.jsonl"
    stored = await _answer(openai_batches.upload_file(store, content, name, purpose))
    return openai_batches.file_object(stored)


@router.get("/files")
async def list_files(
    store: StoreDep,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 10000,
) -> dict[str, Any]:
    """Files, newest first."""
    files = await store.list_files(purpose=purpose, limit=limit)
    data = [openai_batches.file_object(stored) for stored in files]
    return {"object": "list", "data": data, "has_more": False}


@router.get("/files/{file_id}")
async def get_file(file_id: str, store: StoreDep) -> dict[str, Any]:
    """One file's description."""
    return openai_batches.file_object(await _answer(store.get_file(file_id)))


@router.get("/files/{file_id}/content")
async def file_content(file_id: str, store: StoreDep) -> Response:
    """One file's bytes (a batch's output or error file: JSON Lines)."""
    content = await _answer(store.read_file(file_id))
    return Response(content, media_type="application/octet-stream")


@router.post("/batches")
async def create_batch(body: BatchCreate, context: ContextDep) -> dict[str, Any]:
    """Check the input file whole and queue its requests as a job; nothing is stored if bad."""
    store = context.open_store()
    concurrency = openai_batches.batch_concurrency(
        context.settings.endpoints, context.settings.concurrency
    )
    job = await _answer(
        openai_batches.create_batch(
            store,
            input_file_id=body.input_file_id,
            endpoint=body.endpoint,
            completion_window=body.completion_window,
            metadata=body.metadata,
            options=context.job_options(JobOverrides(concurrency=concurrency)),
        )
    )
    context.wake_worker()
    return await _answer(openai_batches.batch_object(store, job.job_id))


@router.get("/batches")
async def list_batches(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
) -> dict[str, Any]:
    """Batches, newest first; ``after`` pages on."""
    return await _answer(openai_batches.list_batches(store, limit=limit, after=after))


@router.get("/batches/{batch_id}")
async def get_batch(batch_id: str, store: StoreDep) -> dict[str, Any]:
    """One batch, with its request counts and, once ended, its output and error files."""
    return await _answer(openai_batches.batch_object(store, batch_id))


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(batch_id: str, store: StoreDep) -> dict[str, Any]:
    """Cancel a batch: nothing more is sent; what was answered stays in its output."""
    return await _answer(openai_batches.cancel_batch(store, batch_id))
