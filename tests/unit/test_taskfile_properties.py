"""Properties of taskfile over generated input: round trips, garbage, graphs, laziness."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from taskfleet.errors import FieldError, TaskfileError, UsageError
from taskfleet.input.taskfile import COMMON_FIELDS, parse_tasks, read_all
from taskfleet.kinds import Kind
from taskfleet.model import DEFAULT_PRIORITY, PRIORITY_NAMES, Outcome


class FakeSimulate:
    name = "simulate"

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        duration = spec.get("duration")
        if isinstance(duration, bool) or not isinstance(duration, int | float):
            raise FieldError("duration", "expected a number")
        return dict(spec)

    async def run(self, spec: Mapping[str, Any], ctx: Any) -> Outcome:
        return Outcome.success()


SIMULATE = FakeSimulate()


def kinds(name: str) -> Kind:
    if name != "simulate":
        raise UsageError(f"unknown kind '{name}'")
    return SIMULATE


ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
priorities = st.one_of(st.sampled_from(sorted(PRIORITY_NAMES)), st.integers(-1000, 1000))
tasks = st.lists(
    st.tuples(ids, st.none() | priorities, st.floats(0, 10)),
    max_size=30,
    unique_by=lambda task: task[0],
)
source_kinds = st.sampled_from(["jsonl", "json", "objects"])
CASES = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])


def as_source(objects: list[Any], how: str, tmp_path: Path) -> Any:
    if how == "objects":
        return objects
    if how == "json":
        path = tmp_path / "tasks.json"
        path.write_text(json.dumps(objects, indent=1), encoding="utf-8")
        return path
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(obj) + "\n" for obj in objects), encoding="utf-8")
    return path


def expected_priority(value: Any) -> int:
    if value is None:
        return DEFAULT_PRIORITY
    return PRIORITY_NAMES[value] if isinstance(value, str) else int(value)


@CASES
@given(tasks=tasks, how=source_kinds)
def test_valid_tasks_round_trip(tmp_path: Path, tasks: list[Any], how: str) -> None:
    objects = []
    for task_id, priority, duration in tasks:
        obj: dict[str, Any] = {"id": task_id, "duration": duration}
        if priority is not None:
            obj["priority"] = priority
        objects.append(obj)
    parsed = read_all(as_source(objects, how, tmp_path), kinds=kinds, allow_empty=True)
    assert [t.id for t in parsed] == [t[0] for t in tasks]
    assert [t.seq for t in parsed] == list(range(1, len(tasks) + 1))
    assert [t.priority for t in parsed] == [expected_priority(t[1]) for t in tasks]
    assert [t.spec["duration"] for t in parsed] == [t[2] for t in tasks]


def _is_object_line(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _is_skipped(line: str) -> bool:
    return not line.strip() or line.strip().startswith("//")


garbage_lines = st.lists(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40).map(
        lambda text: text.replace("\r", " ").replace("\n", " ")
    ),
    min_size=1,
    max_size=20,
).filter(lambda lines: any(not _is_skipped(line) for line in lines))


@CASES
@given(lines=garbage_lines)
def test_garbage_is_always_a_taskfile_error_with_lines_in_range(lines: list[str]) -> None:
    # A line that happens to be a JSON object is still no task: no kind can be inferred
    # from random keys, and "kind" names no known kind... unless it is simulate.
    text = "".join(line + "\n" for line in lines)
    try:
        read_all(io.StringIO(text), kinds=kinds)
    except TaskfileError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert issue.line is None or 1 <= issue.line <= len(lines)
            assert issue.source == "<stream>"
    else:
        # Only possible if every line that is not skipped is a valid simulate task.
        assert all(_is_skipped(line) or _is_object_line(line) for line in lines)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(sorted(COMMON_FIELDS | {"duration", "custom_id", "body"}))
task_like = st.dictionaries(field_names, json_values, max_size=8)


@CASES
@given(objects=st.lists(task_like | json_values, min_size=1, max_size=10), how=source_kinds)
def test_any_json_gives_tasks_or_a_taskfile_error(
    tmp_path: Path, objects: list[Any], how: str
) -> None:
    try:
        parsed = read_all(as_source(objects, how, tmp_path), kinds=kinds, resource_limits={})
    except TaskfileError as exc:
        assert all(issue.line is None or issue.line >= 1 for issue in exc.issues)
        assert len(exc.issues) <= 101
    else:
        assert len(parsed) == len(objects)


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    """Tasks in a random order; each depends only on tasks earlier in a hidden order."""
    size = draw(st.integers(2, 25))
    order = [f"t{i}" for i in range(size)]
    deps = {
        node: draw(st.lists(st.sampled_from(order[:i]), max_size=3, unique=True)) if i else []
        for i, node in enumerate(order)
    }
    listed = draw(st.permutations(order))
    return listed, deps


def dag_objects(listed: list[str], deps: dict[str, list[str]]) -> list[dict[str, Any]]:
    return [{"id": node, "duration": 0, "depends_on": deps[node]} for node in listed]


@CASES
@given(graph=dags())
def test_dags_are_accepted(graph: tuple[list[str], dict[str, list[str]]]) -> None:
    listed, deps = graph
    parsed = read_all(dag_objects(listed, deps), kinds=kinds)
    assert {t.id: list(t.depends_on) for t in parsed} == deps


@CASES
@given(graph=dags(), data=st.data())
def test_a_back_edge_is_a_cycle(
    graph: tuple[list[str], dict[str, list[str]]], data: st.DataObject
) -> None:
    listed, deps = graph
    assume(any(deps.values()))
    # A path exists from a later node down to an earlier one: find one, close it.
    start = data.draw(st.sampled_from([node for node in deps if deps[node]]), label="start")
    path = [start]
    while deps[path[-1]]:
        path.append(data.draw(st.sampled_from(deps[path[-1]])))
    deps[path[-1]] = [*deps[path[-1]], start]
    try:
        read_all(dag_objects(listed, deps), kinds=kinds)
    except TaskfileError as exc:
        cycles = [i for i in exc.issues if i.message.startswith("dependency cycle: ")]
        assert cycles
        for issue in cycles:
            names = issue.message.removeprefix("dependency cycle: ").split(" -> ")
            assert names[0] == names[-1]
            for node, dep in itertools.pairwise(names):
                assert dep in deps[node]
    else:
        raise AssertionError("a cycle was accepted")


class LazyStream:
    """A file-like object whose lines are made on demand; counts what was read."""

    name = "<lazy>"

    def __init__(self, count: int) -> None:
        self.count = count
        self.read_lines = 0

    def read(self, size: int = -1) -> str:
        raise AssertionError("a stream of lines is iterated")

    def __iter__(self) -> Iterator[str]:
        for i in range(self.count):
            self.read_lines += 1
            yield json.dumps({"id": f"t{i}", "duration": 0}) + "\n"


@settings(max_examples=20)
@given(count=st.integers(2, 500))
def test_streams_are_parsed_lazily(count: int) -> None:
    stream = LazyStream(count)
    tasks = parse_tasks(stream, kinds=kinds)  # type: ignore[arg-type]
    assert next(tasks).id == "t0"
    assert stream.read_lines == 1
    assert sum(1 for _ in tasks) == count - 1
    assert stream.read_lines == count
