"""The ``python`` kind: call a function named ``"package.module:callable"``.

Sync functions run in a thread (the default) or, with ``"executor":
"process"``, in a process pool for CPU-bound work; async ones run in the
event loop. Neither a thread nor a pool worker can be killed: when the runner
cancels an attempt (timeout, fail-fast, Ctrl-C), the call keeps running to
its end in the background and its result is discarded. Threads are daemons,
so an abandoned call does not delay the exit; a pool worker does, since
``concurrent.futures`` waits for its workers when the interpreter exits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import importlib
import inspect
import json
import multiprocessing
import os
import pickle
import re
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from taskfleet.errors import FieldError, TaskError
from taskfleet.kinds.base import RunContext, outcome_from_error
from taskfleet.model import ErrorClass, Outcome

__all__ = ["EXECUTORS", "PythonKind"]

EXECUTORS = ("thread", "process")

_IDENTIFIER = r"[A-Za-z_]\w*"
# "pkg.module:attr.attr". The attribute part also takes qualname pieces such
# as "<lambda>" and "<locals>", so a function registered in ctx.callables
# under f"{fn.__module__}:{fn.__qualname__}" passes; importing those fails.
_FUNCTION_REF = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*:[\w<>]+(?:\.[\w<>]+)*")


class _CallableNotFound(Exception):
    """The function reference does not resolve to a callable."""


class PythonKind:
    """Calls a Python function with ``args`` and ``kwargs``."""

    name = "python"
    fields = frozenset({"function", "args", "kwargs", "executor"})

    def __init__(self) -> None:
        self._process_pool: concurrent.futures.ProcessPoolExecutor | None = None

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the fields; the function is not imported here."""
        function = spec.get("function")
        if function is None:
            raise FieldError("function", "is required")
        if not isinstance(function, str) or not _FUNCTION_REF.fullmatch(function):
            raise FieldError("function", "must be a string 'package.module:callable'")
        args = spec.get("args", [])
        if not isinstance(args, list | tuple):
            raise FieldError("args", "must be a list")
        kwargs = spec.get("kwargs", {})
        if not isinstance(kwargs, Mapping) or not all(isinstance(key, str) for key in kwargs):
            raise FieldError("kwargs", "must be an object")
        executor = spec.get("executor", "thread")
        if executor not in EXECUTORS:
            raise FieldError("executor", f"must be one of {', '.join(EXECUTORS)}")
        return {
            "function": function,
            "args": list(args),
            "kwargs": dict(kwargs),
            "executor": executor,
        }

    async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        """Call the function once; its return value is the result."""
        reference: str = spec["function"]
        try:
            function = ctx.callables.get(reference)
            if function is None:
                function = _import_callable(reference, ctx.cwd)
            if spec.get("executor") == "process":
                _check_picklable(function)
        except _CallableNotFound as exc:
            return Outcome.failure(str(exc), error_class=ErrorClass.FATAL)
        try:
            value = await self._call(function, spec)
        except TaskError as exc:
            return outcome_from_error(exc)
        except BrokenProcessPool as exc:
            self._process_pool = None  # unusable now; the next attempt gets a new one
            return Outcome.failure(f"process pool broken: {exc}")
        except Exception as exc:
            return Outcome.failure(_describe_exception(exc))
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return Outcome.failure(
                f"result is not JSON-serialisable: {exc}", error_class=ErrorClass.FATAL
            )
        return Outcome.success(value)

    def close(self) -> None:
        """Shut the process pool down, if one was started."""
        if self._process_pool is not None:
            self._process_pool.shutdown(wait=True, cancel_futures=True)
            self._process_pool = None

    async def _call(self, function: Callable[..., Any], spec: Mapping[str, Any]) -> Any:
        args = spec.get("args", ())
        kwargs = spec.get("kwargs", {})
        if inspect.iscoroutinefunction(function):  # whatever the executor
            return await function(*args, **kwargs)
        if spec.get("executor", "thread") == "process":
            loop = asyncio.get_running_loop()
            value = await loop.run_in_executor(
                self._pool(), _call_with_kwargs, function, args, kwargs
            )
        else:
            value = await _call_in_thread(function, args, kwargs)
        if inspect.isawaitable(value):  # e.g. a partial or object wrapping an async def
            value = await value
        return value

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._process_pool is None:
            # Not fork: the runner has threads (task threads, the store), and a
            # forked child would inherit any lock they held at that moment.
            method = (
                "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            )
            self._process_pool = concurrent.futures.ProcessPoolExecutor(
                mp_context=multiprocessing.get_context(method)
            )
        return self._process_pool


def _call_in_thread(
    function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]
) -> asyncio.Future[Any]:
    """Run ``function`` in a new daemon thread and return its future.

    Like ``asyncio.to_thread``, but neither capped by the default executor's
    size (CPU count + 4: too few for I/O-bound tasks at a high concurrency)
    nor holding up the interpreter's exit. A thread cannot be killed: on
    cancellation (a timeout, fail-fast, Ctrl-C) it runs on to its end and its
    result is discarded. Being a daemon, a stuck one does not keep the
    process alive once taskfleet is done.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def deliver(value: Any, error: BaseException | None) -> None:
        if future.cancelled():
            return  # abandoned: the attempt was cancelled
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        value, error = None, None
        try:
            value = context.run(function, *args, **kwargs)
        except Exception as exc:
            error = exc
        except BaseException as exc:  # SystemExit must not reach the event loop
            error = RuntimeError(f"function raised {type(exc).__name__}: {exc}")
            error.__cause__ = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(deliver, value, error)

    threading.Thread(target=target, name="taskfleet-python", daemon=True).start()
    return future


def _call_with_kwargs(function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    # Executors take no keyword arguments for the function; this module-level
    # helper is picklable, a functools.partial of a local function is not.
    return function(*args, **kwargs)


def _import_callable(reference: str, cwd: str | None = None) -> Callable[..., Any]:
    module_name, _, attribute_path = reference.partition(":")
    # Modules next to the task file import, as with `python -m`, rq or celery:
    # the job's directory is searched, whoever started the runner and wherever.
    search_dir = os.path.abspath(cwd or os.getcwd())
    if search_dir not in sys.path:
        sys.path.append(search_dir)
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # an import runs arbitrary module code
        raise _CallableNotFound(
            f"cannot import module '{module_name}': {type(exc).__name__}: {exc}"
        ) from exc
    found = f"{module_name}:"
    for attribute in attribute_path.split("."):
        try:
            target = getattr(target, attribute)
        except AttributeError as exc:
            where = f"module '{module_name}'" if found.endswith(":") else f"'{found}'"
            raise _CallableNotFound(
                f"cannot find '{reference}': {where} has no attribute '{attribute}'"
            ) from exc
        found += attribute if found.endswith(":") else f".{attribute}"
    if not callable(target):
        raise _CallableNotFound(f"'{reference}' is not callable")
    return target  # type: ignore[no-any-return]


def _check_picklable(function: Callable[..., Any]) -> None:
    # A pool worker gets the function by pickling (by reference). Checked
    # here because a failure inside the pool comes back as a bare
    # AttributeError or PicklingError, which would look retryable.
    try:
        pickle.dumps(function)
    except Exception as exc:
        raise _CallableNotFound(
            f"cannot send '{getattr(function, '__qualname__', function)}' to a process: {exc}"
            " (use a module-level function, or executor 'thread')"
        ) from exc


def _describe_exception(exc: BaseException) -> str:
    """``Type: message`` on the first line (what `failed JOB` shows), then the traceback."""
    summary = "".join(traceback.format_exception_only(exc)).strip()
    details = "".join(traceback.format_exception(exc)).rstrip()
    return f"{summary}\n{details}"
