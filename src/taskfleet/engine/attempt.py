"""Run one attempt of a task through its kind, turning every ending into an Outcome."""

from __future__ import annotations

import asyncio
import functools
import time
import traceback
import types
from collections.abc import Callable, Coroutine, Generator, Mapping
from typing import Any

from taskfleet.errors import TaskError
from taskfleet.kinds.base import Kind, ResponseCache, RunContext, outcome_from_error
from taskfleet.limits.request_meter import RequestMeter
from taskfleet.model import ErrorClass, Job, Outcome, Task
from taskfleet.store.base import Store


class StoreResponseCache:
    """The ResponseCache the runner hands to kinds: the store's response table."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, key: str) -> Any:
        """The response stored under ``key``, or None."""
        return await self._store.get_cached_response(key)

    async def put(self, key: str, response: Any) -> None:
        """Keep ``response`` under ``key``."""
        await self._store.put_cached_response(key, response, time.time())


# Each line of a task's output as it comes: (task id, "stdout" or "stderr", line).
TaskOutputListener = Callable[[str, str, str], None]


class AttemptLauncher:
    """Starts attempts of one job's tasks through their kinds, with the job's defaults."""

    def __init__(
        self,
        job: Job,
        kinds: Callable[[str], Kind],
        callables: Mapping[str, Callable[..., Any]],
        response_cache: ResponseCache,
        request_meter: RequestMeter,
        on_output: TaskOutputListener | None = None,
    ) -> None:
        self._job_id = job.job_id
        self._on_output = on_output
        self._options = job.options
        self._kinds = kinds
        self._callables = callables
        self._response_cache = response_cache
        self._request_meter = request_meter

    def start(
        self, task: Task, attempt: int
    ) -> tuple[Outcome | None, asyncio.Task[Outcome | None] | None]:
        """Start attempt number ``attempt`` of ``task``, inline up to its first suspension.

        As ``start_eagerly``: ``(outcome, None)`` if it already ended, else
        ``(None, the asyncio task that runs it)``.
        """
        options = self._options
        timeout_s = task.timeout_s if task.timeout_s is not None else options.timeout_s
        ctx = RunContext(
            self._job_id,
            task.id,
            attempt,
            timeout_s,
            options.cwd,
            self._callables,
            options.endpoints,
            options.cache,
            self._response_cache,
            self._request_meter,
            None,  # on_output: set below for a job whose output is shown as it comes
            task.scope,
            task.description,
            options.agents,
        )
        if self._on_output is not None:
            ctx.on_output = functools.partial(self._on_output, task.id)
        return start_eagerly(run_attempt(self._kinds(task.kind), task.spec, ctx, timeout_s))


async def run_attempt(
    kind: Kind, spec: Mapping[str, Any], ctx: RunContext, timeout_s: float | None
) -> Outcome | None:
    """Run the kind once; None means the runner cancelled the attempt.

    A timeout cancels the kind's coroutine, which kills what it started
    (a shell task's whole process group), and counts as a retryable failure.
    """
    try:
        if timeout_s is None:
            return await kind.run(spec, ctx)
        return await asyncio.wait_for(kind.run(spec, ctx), timeout_s)
    except TimeoutError:
        return Outcome.failure(f"timed out after {timeout_s:g}s", error_class=ErrorClass.RETRYABLE)
    except asyncio.CancelledError:
        return None
    except TaskError as exc:
        return outcome_from_error(exc)
    except Exception as exc:
        text = "".join(traceback.format_exception(exc)).rstrip()
        return Outcome.failure(text, error_class=ErrorClass.RETRYABLE)


def start_eagerly(
    coro: Coroutine[Any, Any, Outcome | None],
) -> tuple[Outcome | None, asyncio.Task[Outcome | None] | None]:
    """Run ``coro`` up to its first suspension, inline.

    Returns ``(outcome, None)`` when it finished without suspending (a task
    with no I/O: no asyncio.Task is created for it), else ``(None, task)``
    with a Task that carries on from where it stopped. Python 3.12's eager
    task factory does the same; this project supports 3.11.
    """
    try:
        first_yield = coro.send(None)
    except StopIteration as done:
        return done.value, None
    return None, asyncio.ensure_future(_carry_on(coro, first_yield))


@types.coroutine
def _carry_on(
    coro: Coroutine[Any, Any, Outcome | None], yielded: Any
) -> Generator[Any, None, Outcome | None]:
    # The asyncio Task protocol: the Task resumes its coroutine with send(None)
    # or throw(exc); forward both to the inner coroutine, as `yield from` would.
    while True:
        try:
            yield yielded
        except BaseException as exc:  # cancellation thrown in by the Task
            try:
                yielded = coro.throw(exc)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
        else:
            try:
                yielded = coro.send(None)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
