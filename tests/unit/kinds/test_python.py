"""The python kind: parsing, resolving, calling and mapping errors."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from taskfleet.errors import FieldError
from taskfleet.kinds import Kind, RunContext, get_kind
from taskfleet.kinds.python import PythonKind
from taskfleet.model import ErrorClass, Outcome

from . import sample_functions

# The test package's import name depends on how pytest finds it.
MODULE = sample_functions.__name__


def ref(name: str) -> str:
    return f"{MODULE}:{name}"


@pytest.fixture
def kind() -> Iterator[PythonKind]:
    kind = PythonKind()
    yield kind
    kind.close()


def ctx(callables: Mapping[str, Callable[..., Any]] | None = None) -> RunContext:
    return RunContext(job_id="job", task_id="t1", attempt=1, callables=callables or {})


async def run(kind: PythonKind, context: RunContext | None = None, **fields: Any) -> Outcome:
    return await kind.run(kind.parse(fields), context or ctx())


# --- parse -----------------------------------------------------------------


def test_loads_through_entry_point() -> None:
    loaded = get_kind("python")
    assert isinstance(loaded, PythonKind)
    assert isinstance(loaded, Kind)
    assert loaded.name == "python"


def test_parse_fills_defaults_and_drops_other_fields(kind: PythonKind) -> None:
    parsed = kind.parse({"function": "pkg.mod:fn", "id": "x", "retries": 3})
    assert parsed == {"function": "pkg.mod:fn", "args": [], "kwargs": {}, "executor": "thread"}


def test_parse_keeps_args_kwargs_executor(kind: PythonKind) -> None:
    parsed = kind.parse(
        {"function": "m:C.method", "args": [1, "a"], "kwargs": {"k": None}, "executor": "process"}
    )
    assert parsed == {
        "function": "m:C.method",
        "args": [1, "a"],
        "kwargs": {"k": None},
        "executor": "process",
    }


def test_parse_does_not_import(kind: PythonKind) -> None:
    kind.parse({"function": "surely_not_a_module_taskfleet.x:fn"})
    assert "surely_not_a_module_taskfleet" not in sys.modules


def test_parse_accepts_qualnames_of_local_functions(kind: PythonKind) -> None:
    kind.parse({"function": "__main__:<lambda>"})
    kind.parse({"function": "app.jobs:outer.<locals>.inner"})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "function"),
        ({"function": None}, "function"),
        ({"function": 3}, "function"),
        ({"function": ""}, "function"),
        ({"function": "module_only"}, "function"),
        ({"function": "mod:"}, "function"),
        ({"function": ":fn"}, "function"),
        ({"function": "mod:a..b"}, "function"),
        ({"function": "mod.:fn"}, "function"),
        ({"function": "1mod:fn"}, "function"),
        ({"function": "mod:fn:other"}, "function"),
        ({"function": "mod: fn"}, "function"),
        ({"function": "m:f", "args": "abc"}, "args"),
        ({"function": "m:f", "args": {"a": 1}}, "args"),
        ({"function": "m:f", "args": None}, "args"),
        ({"function": "m:f", "kwargs": [1]}, "kwargs"),
        ({"function": "m:f", "kwargs": {1: 2}}, "kwargs"),
        ({"function": "m:f", "kwargs": None}, "kwargs"),
        ({"function": "m:f", "executor": "fiber"}, "executor"),
        ({"function": "m:f", "executor": None}, "executor"),
    ],
)
def test_parse_rejects_bad_fields(kind: PythonKind, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as caught:
        kind.parse(fields)
    assert caught.value.field == field


# --- run ---------------------------------------------------------------------


async def test_sync_function(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("add"), args=[2], kwargs={"b": 3})
    assert outcome == Outcome.success(5)


async def test_sync_function_runs_in_a_thread(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("current_thread_id"))
    assert outcome.ok
    assert outcome.result != threading.get_ident()


async def test_async_function_runs_in_the_loop(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("async_add"), args=[2, 5])
    assert outcome == Outcome.success(7)


async def test_awaitable_result_is_awaited(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("returns_coroutine"), args=[1, 1])
    assert outcome == Outcome.success(2)


async def test_dotted_attribute_path(kind: PythonKind) -> None:
    assert (await run(kind, function=ref("Calculator.multiply"), args=[6, 7])).result == 42
    assert (await run(kind, function=ref("Calculator.scale"), args=[5])).result == 15


async def test_stdlib_function(kind: PythonKind) -> None:
    outcome = await run(kind, function="os.path:join", args=["a", "b"])
    assert outcome.result == os.path.join("a", "b")


async def test_exception_is_a_retryable_failure_with_traceback(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("boom"), args=["kaput"])
    assert not outcome.ok
    assert outcome.error_class is ErrorClass.RETRYABLE
    error = outcome.error or ""
    assert error.splitlines()[0] == "ValueError: kaput"
    assert "Traceback (most recent call last)" in error
    assert "in boom\n    raise ValueError(message)" in error


async def test_wrong_arguments_are_a_failure(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("add"), args=[1, 2, 3])
    assert not outcome.ok
    assert (outcome.error or "").startswith("TypeError:")


async def test_fatal_error_maps_to_fatal(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("raise_fatal"))
    assert outcome == Outcome.failure(
        "bad request", result={"status": 400}, error_class=ErrorClass.FATAL
    )


async def test_rate_limited_maps_to_wait(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("raise_rate_limited"), args=[2.5])
    assert outcome.error_class is ErrorClass.WAIT
    assert outcome.retry_after_s == 2.5
    assert outcome.error == "slow down"


async def test_retryable_error_maps_to_retryable(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("raise_retryable"))
    assert outcome == Outcome.failure("try again", error_class=ErrorClass.RETRYABLE)


@pytest.mark.parametrize("function", ["not_serialisable", "not_a_number"])
async def test_non_json_result_is_fatal(kind: PythonKind, function: str) -> None:
    outcome = await run(kind, function=ref(function))
    assert not outcome.ok
    assert outcome.error_class is ErrorClass.FATAL
    assert (outcome.error or "").startswith("result is not JSON-serialisable: ")


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (
            "no_such_module_taskfleet_test:fn",
            "cannot import module 'no_such_module_taskfleet_test'",
        ),
        (f"{MODULE}:missing", f"module '{MODULE}' has no attribute 'missing'"),
        (f"{MODULE}:Calculator.missing", f"'{MODULE}:Calculator' has no attribute 'missing'"),
        (f"{MODULE}:NOT_CALLABLE", "is not callable"),
        ("__main__:<lambda>", "has no attribute '<lambda>'"),
    ],
)
async def test_unresolvable_function_is_fatal(
    kind: PythonKind, function: str, message: str
) -> None:
    outcome = await run(kind, function=function)
    assert not outcome.ok
    assert outcome.error_class is ErrorClass.FATAL
    assert message in (outcome.error or "")


async def test_registered_callable_wins_over_import(kind: PythonKind) -> None:
    def local(x: int) -> int:
        return x * 10

    callables = {"__main__:<lambda>": lambda x: x + 1, ref("add"): local}
    assert (await run(kind, ctx(callables), function="__main__:<lambda>", args=[1])).result == 2
    assert (await run(kind, ctx(callables), function=ref("add"), args=[4])).result == 40


async def test_registered_async_callable(kind: PythonKind) -> None:
    async def double(x: int) -> int:
        return 2 * x

    outcome = await run(kind, ctx({"m:double": double}), function="m:double", args=[21])
    assert outcome.result == 42


async def test_cancelled_thread_call_is_abandoned(kind: PythonKind) -> None:
    event = threading.Event()
    callables = {"m:wait": lambda: sample_functions.wait_for_event(event)}
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(run(kind, ctx(callables), function="m:wait"), 0.05)
    finally:
        event.set()  # let the abandoned thread end


async def test_sync_calls_are_not_capped_by_the_default_executor(kind: PythonKind) -> None:
    # Every call blocks until all have started: this needs 40 threads at once.
    barrier = threading.Barrier(40, timeout=10)
    spec = kind.parse({"function": "m:meet"})
    context = ctx({"m:meet": barrier.wait})
    outcomes = await asyncio.gather(*(kind.run(spec, context) for _ in range(40)))
    assert all(outcome.ok for outcome in outcomes)


async def test_system_exit_is_a_failure(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("exits"))
    assert not outcome.ok
    assert outcome.error_class is ErrorClass.RETRYABLE
    assert (outcome.error or "").startswith("RuntimeError: function raised SystemExit: 3")


# --- process executor ---------------------------------------------------------------


async def test_process_executor_runs_in_another_process(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("current_pid"), executor="process")
    assert outcome.ok
    assert outcome.result != os.getpid()
    outcome = await run(kind, function=ref("sum_of_squares"), args=[1000], executor="process")
    assert outcome.result == sum(i * i for i in range(1000))


async def test_process_executor_reuses_its_pool(kind: PythonKind) -> None:
    spec = kind.parse({"function": ref("sum_of_squares"), "args": [10], "executor": "process"})
    outcomes = await asyncio.gather(*(kind.run(spec, ctx()) for _ in range(8)))
    assert [outcome.result for outcome in outcomes] == [285] * 8
    assert kind._process_pool is not None


async def test_process_executor_exception_has_the_remote_traceback(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("boom"), args=["far away"], executor="process")
    assert outcome.error_class is ErrorClass.RETRYABLE
    error = outcome.error or ""
    assert error.splitlines()[0] == "ValueError: far away"
    assert "raise ValueError(message)" in error


async def test_process_executor_maps_task_errors(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("raise_rate_limited"), args=[4.0], executor="process")
    assert outcome.error_class is ErrorClass.WAIT
    assert outcome.retry_after_s == 4.0
    outcome = await run(kind, function=ref("raise_fatal"), executor="process")
    assert outcome.error_class is ErrorClass.FATAL
    assert outcome.result == {"status": 400}


async def test_process_executor_rejects_unpicklable_functions(kind: PythonKind) -> None:
    callables = {"m:f": lambda: 1}
    outcome = await run(kind, ctx(callables), function="m:f", executor="process")
    assert outcome.error_class is ErrorClass.FATAL
    assert "cannot send" in (outcome.error or "")


async def test_process_executor_runs_async_functions_in_the_loop(kind: PythonKind) -> None:
    outcome = await run(kind, function=ref("async_add"), args=[1, 2], executor="process")
    assert outcome.result == 3
    assert kind._process_pool is None
