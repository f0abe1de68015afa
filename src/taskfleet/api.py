"""The Python API: ``run``, ``map`` and ``Fleet`` (SPEC section 6).

``run`` and ``map`` are thin ``asyncio.run`` wrappers around ``Fleet``; the
engine is asyncio only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskfleet import service
from taskfleet.config.db_url import MEMORY_URL, normalize_db_url
from taskfleet.config.endpoints import check_endpoint_table
from taskfleet.config.profiles import Profile, profiles_from_mapping
from taskfleet.config.settings import Settings
from taskfleet.engine.progress import ProgressSnapshot, TaskEvent
from taskfleet.engine.runner import Runner
from taskfleet.errors import JobFailed, JobNotFound, UsageError
from taskfleet.kinds import close_kinds
from taskfleet.model import Job, JobOptions, JobStatus, RunMode, TaskStatus
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


def _settings_for_store(db: str | os.PathLike[str] | None) -> Settings:
    """The Python API's settings: the defaults (no config file is read), on the store ``db``."""
    url = MEMORY_URL if db is None else normalize_db_url(os.fspath(db), Path.cwd())
    return Settings(db=url, concurrency=os.cpu_count() or 1)


class Fleet:
    """An open store plus the service functions: submit, run, status, results, events."""

    def __init__(self, db: str | os.PathLike[str] | None = None) -> None:
        self.settings = _settings_for_store(db)
        self.store: Store = open_store(self.settings.db)
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
        allow_empty: bool = False,
        **options: Any,
    ) -> str:
        """Validate and store a job; return its id. Bad tasks (or none) raise TaskfileError."""
        settings, job_options = keyword_options(self.settings, **options)
        job = await service.submit(
            self.store,
            tasks,
            job_options,
            service.TaskRules(profiles=settings.profiles, environ=os.environ),
            source_name="<tasks>",
            job_id=job_id,
            name=name,
            queued=queued,
            allow_empty=allow_empty,
        )
        return job.job_id

    async def run(
        self,
        job_id: str,
        *,
        mode: RunMode | str = RunMode.RESUME,
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
                mode=RunMode(mode),
                lease_s=self.settings.lease,
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


def keyword_options(
    base: Settings,
    *,
    concurrency: int | None = None,
    retries: int = 2,
    retry_delay: float = 1.0,
    timeout: float | None = None,
    fail_fast: bool | str = False,
    validate: str | None = None,
    validate_rounds: int = 2,
    profiles: Mapping[str, Profile | Mapping[str, Any]] | None = None,
    resources: Mapping[str, int] | None = None,
    cwd: str | None = None,
    endpoints: Mapping[str, Mapping[str, Any]] | None = None,
    cache: bool = False,
) -> tuple[Settings, JobOptions]:
    """The settings and JobOptions of the keyword arguments of ``run``, ``map`` and ``submit``.

    Seconds and plain types; ``profiles`` and ``endpoints`` are tables as in
    taskfleet.toml (or Profile objects), checked alike.
    """
    settings = dataclasses.replace(
        base,
        concurrency=concurrency or base.concurrency,
        retries=retries,
        retry_delay=retry_delay,
        timeout=timeout,
        profiles=profiles_from_mapping(profiles or {}),
        resources=dict(resources or {}),
        endpoints=_checked_endpoints(endpoints or {}),
    )
    overrides = service.JobOverrides(
        fail_fast=service.fail_fast_mode(fail_fast),
        validate_cmd=validate,
        validate_rounds=validate_rounds,
        cache=cache,
    )
    return settings, service.job_options(settings, cwd or os.getcwd(), overrides)


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


def _map_job(fn: Callable[..., Any], items: Iterable[Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """The function's key, the job id and the tasks of ``map(fn, items)``.

    The job id is a hash of the function and the items, so that a call after
    a crash finds the job of the call that crashed.
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
    return function_key, job_id, tasks


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
    function_key, job_id, tasks = _map_job(fn, items)

    async def main() -> Summary:
        async with Fleet(db) as fleet:
            try:
                job = await service.get_job(fleet.store, job_id)
            except JobNotFound:
                # map over no items is an empty list, not a mistake
                await fleet.submit(tasks, job_id=job_id, queued=False, allow_empty=True, **options)
                job = await fleet.store.get_job(job_id)
            mode = RunMode.RETRY if job.status.is_final else RunMode.RESUME
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
