"""The simulate kind: parsing, repeatable failures and (not) sleeping."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from taskfleet.errors import FieldError
from taskfleet.kinds import Kind, RunContext, get_kind
from taskfleet.kinds.simulate import SimulateKind, failure_draw
from taskfleet.model import ErrorClass, Outcome


@pytest.fixture
def kind() -> SimulateKind:
    return SimulateKind()


def ctx(task_id: str = "t1", attempt: int = 1, job_id: str = "job") -> RunContext:
    return RunContext(job_id=job_id, task_id=task_id, attempt=attempt)


async def run(kind: SimulateKind, context: RunContext | None = None, **fields: Any) -> Outcome:
    return await kind.run(kind.parse(fields), context or ctx())


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def forbidden(delay: float, result: Any = None) -> Any:
        raise AssertionError(f"slept {delay}")

    monkeypatch.setattr(asyncio, "sleep", forbidden)


# --- parse -----------------------------------------------------------------


def test_loads_through_entry_point() -> None:
    loaded = get_kind("simulate")
    assert isinstance(loaded, SimulateKind)
    assert isinstance(loaded, Kind)
    assert loaded.name == "simulate"


def test_parse_defaults(kind: SimulateKind) -> None:
    assert kind.parse({"id": "x"}) == {"duration": 0.0, "fail_rate": 0.0, "fail_times": 0}


def test_parse_keeps_values_and_output(kind: SimulateKind) -> None:
    parsed = kind.parse({"duration": 2, "fail_rate": 0.5, "fail_times": 3, "output": [1, "a"]})
    assert parsed == {"duration": 2.0, "fail_rate": 0.5, "fail_times": 3, "output": [1, "a"]}


def test_parse_keeps_a_null_output(kind: SimulateKind) -> None:
    assert kind.parse({"output": None})["output"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"duration": -1}, "duration"),
        ({"duration": "1"}, "duration"),
        ({"duration": True}, "duration"),
        ({"duration": None}, "duration"),
        ({"duration": float("nan")}, "duration"),
        ({"duration": float("inf")}, "duration"),
        ({"fail_rate": 1.5}, "fail_rate"),
        ({"fail_rate": -0.1}, "fail_rate"),
        ({"fail_rate": False}, "fail_rate"),
        ({"fail_rate": "0.5"}, "fail_rate"),
        ({"fail_times": -1}, "fail_times"),
        ({"fail_times": 1.5}, "fail_times"),
        ({"fail_times": 2.0}, "fail_times"),
        ({"fail_times": True}, "fail_times"),
        ({"fail_times": "2"}, "fail_times"),
    ],
)
def test_parse_rejects_bad_fields(kind: SimulateKind, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as caught:
        kind.parse(fields)
    assert caught.value.field == field


# --- run ---------------------------------------------------------------------


async def test_default_result_is_the_duration(kind: SimulateKind, no_sleep: None) -> None:
    assert await run(kind) == Outcome.success({"duration": 0.0})


@pytest.mark.parametrize("output", [{"answer": 42}, None, "text", [1, 2]])
async def test_output_is_the_result(kind: SimulateKind, no_sleep: None, output: Any) -> None:
    assert await run(kind, output=output) == Outcome.success(output)


async def test_zero_duration_does_not_sleep(kind: SimulateKind, no_sleep: None) -> None:
    spec = kind.parse({})
    for attempt in range(1, 100):
        assert (await kind.run(spec, ctx(attempt=attempt))).ok


async def test_positive_duration_sleeps(
    kind: SimulateKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def record(delay: float, result: Any = None) -> Any:
        slept.append(delay)
        return result

    monkeypatch.setattr(asyncio, "sleep", record)
    assert await run(kind, duration=1.5) == Outcome.success({"duration": 1.5})
    assert slept == [1.5]


async def test_duration_can_be_cut_by_a_timeout(kind: SimulateKind) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run(kind, duration=60), 0.05)


async def test_fail_times_fails_the_first_attempts(kind: SimulateKind, no_sleep: None) -> None:
    spec = kind.parse({"fail_times": 2})
    first = await kind.run(spec, ctx(attempt=1))
    second = await kind.run(spec, ctx(attempt=2))
    third = await kind.run(spec, ctx(attempt=3))
    assert first == Outcome.failure("simulated failure (attempt 1 of fail_times 2)")
    assert first.error_class is ErrorClass.RETRYABLE
    assert second.error == "simulated failure (attempt 2 of fail_times 2)"
    assert third.ok


async def test_fail_rate_is_repeatable(kind: SimulateKind, no_sleep: None) -> None:
    spec = kind.parse({"fail_rate": 0.5})
    for task_id in ("a", "b", "c", "task-17"):
        for attempt in (1, 2, 3):
            first = await kind.run(spec, ctx(task_id, attempt, job_id="job-1"))
            again = await kind.run(spec, ctx(task_id, attempt, job_id="job-2"))
            assert first == again
    assert failure_draw("x", 1) == failure_draw("x", 1)
    assert failure_draw("x", 1) != failure_draw("x", 2)


async def test_fail_rate_is_roughly_right(kind: SimulateKind, no_sleep: None) -> None:
    for rate in (0.1, 0.3, 0.5, 0.9):
        spec = kind.parse({"fail_rate": rate})
        for attempt in (1, 2):
            outcomes = [await kind.run(spec, ctx(str(i), attempt)) for i in range(1, 1001)]
            failures = [outcome for outcome in outcomes if not outcome.ok]
            # Binomial standard deviation is at most ~16 over 1,000 draws.
            assert abs(len(failures) - 1000 * rate) < 60, (rate, attempt, len(failures))
            assert all(outcome.error == "simulated random failure" for outcome in failures)


async def test_fail_rate_edges(kind: SimulateKind, no_sleep: None) -> None:
    never = kind.parse({"fail_rate": 0})
    always = kind.parse({"fail_rate": 1})
    for i in range(200):
        assert (await kind.run(never, ctx(str(i)))).ok
        assert not (await kind.run(always, ctx(str(i)))).ok


def test_failure_draw_is_in_the_unit_interval() -> None:
    draws = [failure_draw(f"t{i}", attempt) for i in range(2000) for attempt in (1, 2)]
    assert all(0 <= draw < 1 for draw in draws)
