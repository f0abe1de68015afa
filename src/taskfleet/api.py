"""The Python API: ``run``, ``map`` and ``Fleet`` (SPEC section 6).

``run`` and ``map`` are thin ``asyncio.run`` wrappers around ``Fleet``; the
engine is asyncio only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskfleet import service
from taskfleet.config.endpoints import check_endpoint_table
from taskfleet.config.profiles import Profile, profiles_from_mapping
from taskfleet.engine.progress import ProgressSnapshot, TaskEvent
from taskfleet.engine.runner import Runner
from taskfleet.errors import JobFailed, JobNotFound, UsageError
from taskfleet.input.taskfile import parse_tasks
from taskfleet.kinds import close_kinds
from taskfleet.model import FailFast, Job, JobOptions, JobStatus, TaskStatus
from taskfleet.service.results import result_record
from taskfleet.store import open_store
from taskfleet.store.base import Store

ProgressCallback = Callable[[ProgressSnapshot], None]
PROGRESS_INTERVAL_S = 0.5


@dataclass(frozen=True)
class Summary:
    """How a job ended: its status object (SPEC section 4) and its results in input order."""

    job_id: str
    status: str
    report: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every task succeeded."""
        return self.status == JobStatus.COMPLETED.value

    def __getitem__(self, key: str) -> Any:
        return self.report[key]


def _db_url(db: str | os.PathLike[str] | None) -> str:
    if db is None:
        return "memory://"
    text = os.fspath(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


class Fleet:
    """An open store plus the service functions: submit, run, status, results, events."""

    def __init__(self, db: str | os.PathLike[str] | None = None) -> None:
        self.store: Store = open_store(_db_url(db))
        self._listeners: dict[str, list[asyncio.Queue[TaskEvent | None]]] = {}

    async def __aenter__(self) -> Fleet:
        await self.store.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.store.close()

    async def submit(
        self,
        tasks: Sequence[Mapping[str, Any]],
        *,
        job_id: str | None = None,
        name: str = "",
        queued: bool = True,
        **options: Any,
    ) -> str:
        """Validate and store a job; return its id. Bad tasks raise TaskfileError."""
        profiles = profiles_from_mapping(options.pop("profiles", None) or {})
        job_options = make_options(profiles=profiles, **options)
        specs = parse_tasks(
            tasks,
            source_name="<tasks>",
            profiles=profiles,
            resource_limits=job_options.resource_limits,
            endpoints=job_options.endpoints,
        )
        status = JobStatus.QUEUED if queued else JobStatus.INTERRUPTED
        job = await service.create_job(
            self.store, specs, job_options, job_id=job_id, name=name, status=status
        )
        return job.job_id

    async def run(
        self,
        job_id: str,
        *,
        mode: str = "resume",
        callables: Mapping[str, Callable[..., Any]] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Summary:
        """Run a stored job in this process (``resume`` or ``retry``) and summarise it."""
        runners: list[Runner] = []
        reporter: asyncio.Task[None] | None = None

        def on_runner(runner: Runner) -> None:
            nonlocal reporter
            runners.append(runner)
            if on_progress is not None:
                reporter = asyncio.ensure_future(_report_progress(runner, on_progress))

        try:
            job = await service.run_job(
                self.store,
                job_id,
                mode=mode,
                callables=callables,
                on_event=lambda event: self._publish(job_id, event),
                on_runner=on_runner,
            )
        finally:
            if reporter is not None:
                reporter.cancel()
            self._close_listeners(job_id)
        if on_progress is not None and runners and runners[0].tracker is not None:
            on_progress(runners[0].tracker.snapshot(time.time()))
        return await self.summary(job.job_id)

    async def summary(self, job_id: str) -> Summary:
        """The job's status object and results."""
        report = (await service.job_report(self.store, job_id)).to_dict()
        return Summary(job_id, report["status"], report, await self.results(job_id))

    async def status(self, job_id: str) -> dict[str, Any]:
        """The job's status object (SPEC section 4)."""
        return (await service.job_report(self.store, job_id)).to_dict()

    async def results(
        self, job_id: str, statuses: Iterable[TaskStatus] | None = None
    ) -> list[dict[str, Any]]:
        """One results record per task, in input order."""
        wanted = list(statuses) if statuses is not None else None
        return [result_record(t) async for t in service.iter_tasks(self.store, job_id, wanted)]

    async def cancel(self, job_id: str) -> Job:
        """Cancel the job's queued and running tasks."""
        return await service.cancel_job(self.store, job_id)

    async def events(self, job_id: str) -> AsyncIterator[TaskEvent]:
        """Task events of a job that this Fleet runs, until that run ends."""
        queue: asyncio.Queue[TaskEvent | None] = asyncio.Queue()
        self._listeners.setdefault(job_id, []).append(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            if queue in self._listeners.get(job_id, []):
                self._listeners[job_id].remove(queue)

    def _publish(self, job_id: str, event: TaskEvent) -> None:
        for queue in self._listeners.get(job_id, ()):
            queue.put_nowait(event)

    def _close_listeners(self, job_id: str) -> None:
        for queue in self._listeners.pop(job_id, []):
            queue.put_nowait(None)


async def _report_progress(runner: Runner, callback: ProgressCallback) -> None:
    while True:
        await asyncio.sleep(PROGRESS_INTERVAL_S)
        if runner.tracker is not None:
            callback(runner.tracker.snapshot(time.time()))


def make_options(
    *,
    concurrency: int | None = None,
    retries: int = 2,
    retry_delay: float = 1.0,
    timeout: float | None = None,
    fail_fast: bool | str = False,
    validate: str | None = None,
    validate_rounds: int = 2,
    profiles: Mapping[str, Profile] | None = None,
    resources: Mapping[str, int] | None = None,
    cwd: str | None = None,
    endpoints: Mapping[str, Mapping[str, Any]] | None = None,
    cache: bool = False,
) -> JobOptions:
    """JobOptions from Python keyword arguments (seconds, plain types).

    ``endpoints`` are ``[endpoints.NAME]`` tables as in taskfleet.toml, checked alike.
    """
    if fail_fast is True:
        fail_fast_mode = FailFast.GRACEFUL
    else:
        fail_fast_mode = FailFast.NOW if fail_fast == "now" else FailFast.OFF
    return JobOptions(
        concurrency=concurrency or os.cpu_count() or 1,
        retries=retries,
        retry_delay_s=retry_delay,
        timeout_s=timeout,
        fail_fast=fail_fast_mode,
        validate_cmd=validate,
        validate_rounds=validate_rounds,
        profile_limits={
            name: p.concurrency for name, p in (profiles or {}).items() if p.concurrency
        },
        resource_limits=dict(resources or {}),
        cwd=cwd or os.getcwd(),
        endpoints=_checked_endpoints(endpoints or {}),
        cache=cache,
    )


def _checked_endpoints(
    endpoints: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """``endpoints=`` tables, checked as those of taskfleet.toml are."""
    return {
        name: check_endpoint_table(name, table, "endpoints") for name, table in endpoints.items()
    }


async def _then_close_kinds(coro: Any) -> Any:
    try:
        return await coro
    finally:
        await close_kinds()


def _run_sync(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_then_close_kinds(coro))
    coro.close()
    raise UsageError("taskfleet.run/map cannot be called from a running event loop: use Fleet")


def run(
    tasks: Sequence[Mapping[str, Any]],
    *,
    db: str | os.PathLike[str] | None = None,
    job_id: str | None = None,
    name: str = "",
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> Summary:
    """Run a list of task dicts to the end; ``db=None`` keeps everything in memory."""

    async def main() -> Summary:
        async with Fleet(db) as fleet:
            new_id = await fleet.submit(tasks, job_id=job_id, name=name, queued=False, **options)
            return await fleet.run(new_id, on_progress=on_progress)

    result: Summary = _run_sync(main())
    return result


def _code_fingerprint(fn: Callable[..., Any]) -> str:
    """What tells two functions apart that share a name (two lambdas, say).

    Stable across processes for the same source, so a call after a crash finds
    the job of the call that crashed.
    """
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    digest = hashlib.sha256(code.co_code)
    digest.update(repr(code.co_consts).encode())
    digest.update(f"{code.co_filename}:{code.co_firstlineno}".encode())
    return digest.hexdigest()[:16]


def map(
    fn: Callable[..., Any],
    items: Iterable[Any],
    *,
    db: str | os.PathLike[str] | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> list[Any]:
    """``fn(item)`` for every item, in parallel; results in input order.

    With ``db``, the call is durable: calling it again with the same function
    and items after a crash runs only what had not succeeded. Raises JobFailed
    (with every failed item's error) if any item still fails.
    """
    materialised = list(items)
    function_key = f"{fn.__module__}:{fn.__qualname__}"
    try:
        payload = json.dumps([function_key, _code_fingerprint(fn), materialised], sort_keys=True)
    except TypeError as exc:
        raise UsageError(f"map items must be JSON-serialisable to be stored: {exc}") from exc
    job_id = "map-" + hashlib.sha256(payload.encode()).hexdigest()[:16]
    tasks = [
        {"id": str(index), "kind": "python", "function": function_key, "args": [item]}
        for index, item in enumerate(materialised)
    ]

    async def main() -> Summary:
        async with Fleet(db) as fleet:
            try:
                job = await service.get_job(fleet.store, job_id)
            except JobNotFound:
                await fleet.submit(tasks, job_id=job_id, queued=False, **options)
                job = await fleet.store.get_job(job_id)
            mode = "retry" if job.status.is_final else "resume"
            return await fleet.run(
                job_id, mode=mode, callables={function_key: fn}, on_progress=on_progress
            )

    summary: Summary = _run_sync(main())
    failures = {
        r["id"]: r["error"] or r["status"]
        for r in summary.results
        if r["status"] != TaskStatus.SUCCEEDED.value
    }
    if failures:
        raise JobFailed(job_id, failures)
    return [record["result"] for record in summary.results]
