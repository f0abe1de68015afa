"""taskfile: reading task input into TaskSpecs, and every way input can be bad."""

from __future__ import annotations

import io
import json
import shlex
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from taskfleet.config.profiles import Profile
from taskfleet.errors import FieldError, TaskfileError, TaskfileIssue, UsageError
from taskfleet.input import taskfile
from taskfleet.input.taskfile import open_source, parse_tasks, read_all
from taskfleet.kinds import Kind
from taskfleet.model import DEFAULT_PRIORITY, PRIORITY_NAMES, Outcome, TaskSpec

# -- fakes -------------------------------------------------------------------------


class FakeKind:
    """A kind that accepts its fields as they are, except ones it checks."""

    def __init__(self, name: str, checks: Mapping[str, type | tuple[type, ...]] = {}) -> None:
        self.name = name
        self.checks = checks
        self.seen: list[dict[str, Any]] = []

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        self.seen.append(dict(spec))
        for field, types in self.checks.items():
            if field in spec and not isinstance(spec[field], types):
                raise FieldError(field, f"bad {field}")
        return {"parsed": True, **spec}

    async def run(self, spec: Mapping[str, Any], ctx: Any) -> Outcome:
        return Outcome.success()


class StrictShell(FakeKind):
    """Rejects fields it does not know, as a strict real kind may."""

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(spec) - {"command", "cwd", "env", "stdin"}
        if unknown:
            raise FieldError(sorted(unknown)[0], "unknown field")
        if not isinstance(spec.get("command"), str | list):
            raise FieldError("command", "expected a string or a list")
        return dict(spec)


def make_kinds(*extra: str) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {
        "shell": StrictShell("shell"),
        "python": FakeKind("python"),
        "simulate": FakeKind("simulate", {"duration": (int, float)}),
    }
    for name in extra:
        kinds[name] = FakeKind(name)
    return kinds


def lookup(kinds: Mapping[str, Kind]) -> Any:
    def get(name: str) -> Kind:
        if name not in kinds:
            raise UsageError(f"unknown kind '{name}'")
        return kinds[name]

    return get


KINDS = lookup(make_kinds())


def parse(source: Any, **options: Any) -> list[TaskSpec]:
    options.setdefault("kinds", KINDS)
    return read_all(source, **options)


def issues_of(source: Any, **options: Any) -> list[TaskfileIssue]:
    with pytest.raises(TaskfileError) as caught:
        parse(source, **options)
    return caught.value.issues


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(*objects: Any) -> str:
    return "".join(json.dumps(obj) + "\n" for obj in objects)


# -- reading each kind of input ----------------------------------------------------


def test_jsonl_file_skips_blanks_and_comments_and_numbers_by_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tasks.jsonl",
        '{"duration": 1}\n\n   // a comment\n{"id": "b", "command": "echo hi"}\n'
        '  {"function": "mod:fn"}\n',
    )
    tasks = parse(path)
    assert [(t.id, t.seq, t.kind) for t in tasks] == [
        ("1", 1, "simulate"),
        ("b", 2, "shell"),
        ("5", 3, "python"),
    ]
    assert tasks[0].spec == {"parsed": True, "duration": 1}
    assert tasks[0].priority == DEFAULT_PRIORITY
    assert (tasks[0].retries, tasks[0].timeout_s, tasks[0].depends_on) == (None, None, ())


def test_other_extensions_are_read_as_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path, "tasks.txt", jsonl({"id": "a", "duration": 0}))
    assert [t.id for t in parse(path)] == ["a"]
    assert [t.id for t in parse(str(path))] == ["a"]


def test_crlf_line_ends_and_a_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "a", "duration": 0}\r\n// note\r\n{"duration": 1}\r\n')
    assert [t.id for t in parse(path)] == ["a", "3"]


def test_json_array_with_byte_order_mark_and_upper_case_extension(tmp_path: Path) -> None:
    path = tmp_path / "TASKS.JSON"
    path.write_bytes(b'\xef\xbb\xbf[{"id": "a", "duration": 0}]')
    assert [t.id for t in parse(path)] == ["a"]


def test_json_array_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_bytes(b'[{"id": "\xff", "duration": 0}]')
    [issue] = issues_of(path)
    assert (issue.line, issue.message) == (None, "not valid UTF-8: invalid start byte")


def test_json_array_reports_the_line_of_each_element(tmp_path: Path) -> None:
    text = json.dumps([{"duration": 1}, {"id": "b", "duration": "x"}, {"id": 3}], indent=2)
    path = write(tmp_path, "tasks.json", text)
    issues = issues_of(path)
    lines = text.splitlines()
    line_of_b = next(i for i, line in enumerate(lines, 1) if '"b"' in line) - 1
    assert issues[0] == TaskfileIssue(str(path), line_of_b, "duration", "bad duration")
    assert issues[1].field == "kind" and "cannot infer kind" in issues[1].message


def test_json_array_default_id_is_the_element_number(tmp_path: Path) -> None:
    path = write(tmp_path, "tasks.json", '[\n\n{"duration": 1},\n{"duration": 2}\n]\n')
    assert [(t.id, t.seq) for t in parse(path)] == [("1", 1), ("2", 2)]


def test_json_array_is_read_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(taskfile, "_CHUNK", 7)  # cut strings, numbers and lines in two
    objects = [{"id": f"t{i}", "duration": 12345678 + i, "note": "x" * i} for i in range(40)]
    path = write(tmp_path, "tasks.json", json.dumps(objects, indent=1))
    tasks = parse(path)
    assert [t.spec["duration"] for t in tasks] == [o["duration"] for o in objects]
    assert [t.id for t in tasks] == [o["id"] for o in objects]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "expected a JSON array of task objects, got an empty file"),
        ('\n{"duration": 1}\n', 2, "one object per line belongs in a .jsonl file"),
        ('[{"duration": 1},\n {"duration": 1]\n', 2, "invalid JSON"),
        ('[{"duration": 1}\n {"duration": 1}]', 2, "expected ',' or ']'"),
        ('[{"duration": 1}]\n\n[]', 3, "extra data after the array"),
        ('[{"duration": 1},\n]', 2, "invalid JSON"),
    ],
)
def test_bad_json_array(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, "tasks.json", text)
    issues = issues_of(path)
    assert issues[-1].line == line
    assert message in issues[-1].message


def test_empty_inputs_are_refused_unless_allowed(tmp_path: Path) -> None:
    for source in [write(tmp_path, "a.json", " [ ] "), write(tmp_path, "a.jsonl", "\n// x\n")]:
        assert [str(issue) for issue in issues_of(source)] == [f"{source}: no tasks"]
        assert parse(source, allow_empty=True) == []
    assert [str(issue) for issue in issues_of([], source_name="<tasks>")] == ["<tasks>: no tasks"]
    assert parse([], allow_empty=True) == []


def test_a_bad_line_is_not_also_called_empty(tmp_path: Path) -> None:
    issues = issues_of(write(tmp_path, "a.jsonl", "oops\n"))
    assert [issue.message.split(":")[0] for issue in issues] == ["invalid JSON"]


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(jsonl({"duration": 0})))
    assert [t.id for t in parse("-")] == ["1"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("oops\n"))
    assert issues_of("-")[0].source == "<stdin>"


def test_text_stream_takes_its_name_unless_given() -> None:
    stream = io.StringIO("[1]\n")
    assert issues_of(stream)[0].source == "<stream>"
    stream = io.StringIO("[1]\n")
    assert issues_of(stream, source_name="batch.jsonl")[0].source == "batch.jsonl"


def test_binary_stream_lines_are_decoded_one_by_one() -> None:
    stream = io.BytesIO(b'{"duration": 0}\n{"duration": "\xff"}\n')
    issues = issues_of(stream)
    assert [(i.line, i.field) for i in issues] == [(2, None)]
    assert "not valid UTF-8" in issues[0].message


def test_python_objects_use_their_index_as_line() -> None:
    tasks = parse([{"duration": 0}, MappingProxyType({"id": "b", "duration": 1})])
    assert [(t.id, t.seq) for t in tasks] == [("1", 1), ("b", 2)]
    issues = issues_of([{"duration": 0}, ["not", "a", "task"]])
    assert issues == [TaskfileIssue("<tasks>", 2, None, "expected a JSON object, got array")]


def test_caller_objects_are_not_changed() -> None:
    task = {"profile": "p", "prompt": "hi"}
    profiles = {"p": Profile("p", "shell", {"command": "echo {prompt}"}, {"cwd": "/"})}
    parse([task], profiles=profiles)
    assert task == {"profile": "p", "prompt": "hi"}


# -- missing and unreadable files ----------------------------------------------------


def test_missing_file_is_one_issue_without_line(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    assert issues_of(path) == [TaskfileIssue(str(path), None, None, "file not found")]


def test_directory_is_not_a_task_file(tmp_path: Path) -> None:
    issues = issues_of(tmp_path)
    assert len(issues) == 1 and "directory" in issues[0].message


def test_open_source_checks_at_once(tmp_path: Path) -> None:
    stdin = io.StringIO("")
    assert open_source("-", stdin) is stdin
    path = write(tmp_path, "a.jsonl", "")
    assert open_source(str(path), stdin) == path
    with pytest.raises(TaskfileError) as caught:
        open_source(str(tmp_path / "missing.jsonl"), stdin)
    assert caught.value.issues[0].message == "file not found"


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"duration": 0}\n{"id": "\xc3\x28", "duration": 0}\n')
    issues = issues_of(path)
    assert issues[0].line == 2 and "not valid UTF-8" in issues[0].message


# -- SPEC section 2: each kind of bad input ------------------------------------------


def test_malformed_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", '{"duration": 0}\n{"duration": 0,\n')
    [issue] = issues_of(path)
    assert (issue.source, issue.line, issue.field) == (str(path), 2, None)
    assert issue.message.startswith("invalid JSON: ")
    assert str(issue).startswith(f"{path}:2: invalid JSON")


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", '[{"duration": 0}]\n"text"\n')
    issues = issues_of(path)
    assert [i.message for i in issues] == [
        "expected a JSON object, got array",
        "expected a JSON object, got string",
    ]


def test_unknown_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", jsonl({"kind": "teleport"}, {"prompt": "hi"}))
    issues = issues_of(path)
    assert [(i.line, i.field, i.message) for i in issues] == [
        (1, "kind", "unknown kind 'teleport'"),
        (2, "kind", "unknown kind 'llm'"),
    ]


def test_kind_that_fails_to_load_is_an_issue() -> None:
    def broken(name: str) -> Kind:
        raise ImportError("no module named shellish")

    [issue] = issues_of([{"command": "ls"}], kinds=broken)
    assert issue.field == "kind" and "could not be loaded: ImportError" in issue.message


def test_duplicate_id(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", jsonl({"id": "x", "duration": 0}, {}, {"id": "x"}))
    issues = [i for i in issues_of(path) if i.field == "id"]
    assert issues == [TaskfileIssue(str(path), 3, "id", "duplicate id 'x' (first on line 1)")]


def test_duplicate_of_a_default_id() -> None:
    issues = issues_of([{"duration": 0}, {"id": 1, "duration": 0}])
    assert issues[0].message == "duplicate id '1' (first on line 1)"


def test_unknown_dependency() -> None:
    issues = issues_of([{"id": "a", "duration": 0, "depends_on": ["zz", "a2"]}])
    assert [(i.line, i.field, i.message) for i in issues] == [
        (1, "depends_on", "unknown task id 'zz'"),
        (1, "depends_on", "unknown task id 'a2'"),
    ]


def test_dependency_may_come_later_in_the_file() -> None:
    tasks = parse([{"id": "a", "duration": 0, "depends_on": "b"}, {"id": "b", "duration": 0}])
    assert tasks[0].depends_on == ("b",)


def test_dependency_cycle() -> None:
    tasks = [
        {"id": "a", "duration": 0, "depends_on": ["b"]},
        {"id": "b", "duration": 0, "depends_on": ["c"]},
        {"id": "c", "duration": 0, "depends_on": ["a"]},
        {"id": "d", "duration": 0, "depends_on": ["a"]},
    ]
    [issue] = issues_of(tasks)
    assert (issue.line, issue.field) == (1, "depends_on")
    assert issue.message == "dependency cycle: a -> b -> c -> a"


def test_long_cycle_is_shortened() -> None:
    n = 30
    tasks = [{"id": f"t{i}", "duration": 0, "depends_on": [f"t{(i + 1) % n}"]} for i in range(n)]
    [issue] = issues_of(tasks)
    assert issue.message.startswith("dependency cycle: t0 -> t1 -> ")
    assert issue.message.endswith("-> ... -> t0 (30 tasks)")


def test_self_dependency() -> None:
    [issue] = issues_of([{"id": "a", "duration": 0, "depends_on": ["a"]}])
    assert (issue.field, issue.message) == ("depends_on", "task 'a' depends on itself")


def test_wrong_field_type() -> None:
    [issue] = issues_of([{"duration": 0, "retries": "two"}])
    assert issue == TaskfileIssue("<tasks>", 1, "retries", 'expected an integer ≥ 0, got "two"')


def test_kind_field_error_becomes_an_issue() -> None:
    [issue] = issues_of([{"duration": "long"}])
    assert (issue.line, issue.field, issue.message) == (1, "duration", "bad duration")


def test_every_issue_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.jsonl",
        '{"id": "a", "duration": 0, "priority": "urgent", "timeout": -1}\n'
        "not json\n"
        '{"id": "a", "duration": 0, "tags": "ok", "scope": [1]}\n',
    )
    issues = issues_of(path)
    assert [(i.line, i.field) for i in issues] == [
        (1, "priority"),
        (1, "timeout"),
        (2, None),
        (3, "id"),
        (3, "scope"),
    ]
    assert str(TaskfileError(issues)).count("\n") == 4


def test_issues_are_capped_at_one_hundred() -> None:
    with pytest.raises(TaskfileError) as caught:
        parse([{"retries": -1, "duration": 0}] * 150)
    issues = caught.value.issues
    assert len(issues) == 101
    assert issues[99].line == 100
    assert issues[100] == TaskfileIssue("<tasks>", None, None, "... and 50 more problems")


def test_unknown_dependency_is_not_claimed_after_an_unreadable_line() -> None:
    # The unreadable line may be the one that holds id "b".
    issues = issues_of([{"id": "a", "duration": 0, "depends_on": ["b"]}, "garbage"])
    assert [i.line for i in issues] == [2]


# -- common fields --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", "x"), (3, "3"), (3.0, "3"), (2.5, "2.5"), (None, "1")],
)
def test_ids(value: Any, expected: str) -> None:
    assert parse([{"id": value, "duration": 0}])[0].id == expected


@pytest.mark.parametrize("value", [True, "", [1], {"a": 1}])
def test_bad_ids(value: Any) -> None:
    [issue] = issues_of([{"id": value, "duration": 0}])
    assert issue.field == "id"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("critical", 3), ("High", 2), ("medium", 1), ("low", 0), (10, 10), (-5, -5)],
)
def test_priority(value: Any, expected: int) -> None:
    assert parse([{"priority": value, "duration": 0}])[0].priority == expected
    assert PRIORITY_NAMES["medium"] == DEFAULT_PRIORITY


@pytest.mark.parametrize("value", [True, "urgent", 1.5, [1]])
def test_bad_priority(value: Any) -> None:
    [issue] = issues_of([{"priority": value, "duration": 0}])
    assert issue.field == "priority" and "critical, high, medium, low" in issue.message


def test_retries_and_timeout() -> None:
    [task] = parse([{"retries": 0, "timeout": 2, "duration": 0}])
    assert (task.retries, task.timeout_s) == (0, 2.0)
    assert isinstance(task.timeout_s, float)


@pytest.mark.parametrize(
    ("field", "value"),
    [("retries", -1), ("retries", 1.0), ("retries", False), ("timeout", 0), ("timeout", True)],
)
def test_bad_retries_and_timeout(field: str, value: Any) -> None:
    [issue] = issues_of([{field: value, "duration": 0}])
    assert issue.field == field


def test_list_fields() -> None:
    [_, task] = parse(
        [
            {"id": 1, "duration": 0},
            {
                "duration": 0,
                "depends_on": [1, "1"],
                "scope": "src/**",
                "tags": ["a", "b"],
                "resources": ["gpu"],
                "description": "text",
            },
        ]
    )
    assert task.depends_on == ("1",)
    assert task.scope == ("src/**",)
    assert task.tags == ("a", "b")
    assert task.resources == ("gpu",)
    assert task.description == "text"
    assert "tags" not in task.spec and "description" not in task.spec


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("depends_on", {"a": 1}),
        ("depends_on", [True]),
        ("scope", [1]),
        ("tags", {"a": 1}),
        ("resources", 5),
        ("description", 5),
    ],
)
def test_bad_list_fields(field: str, value: Any) -> None:
    [issue] = issues_of([{field: value, "duration": 0}])
    assert issue.field == field


def test_null_means_not_given() -> None:
    [task] = parse([{"duration": 0, "priority": None, "tags": None, "timeout": None}])
    assert (task.priority, task.tags, task.timeout_s) == (DEFAULT_PRIORITY, (), None)


def test_resources_must_be_configured_when_limits_are_known() -> None:
    tasks = [{"duration": 0, "resources": ["gpu", "api:openai"]}]
    assert parse(tasks)[0].resources == ("gpu", "api:openai")
    [issue] = issues_of(tasks, resource_limits={"gpu": 1})
    assert issue == TaskfileIssue(
        "<tasks>", 1, "resources", "unknown resource 'api:openai' (configure it under [resources])"
    )


# -- kinds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "kind"),
    [
        ({"command": "ls"}, "shell"),
        ({"function": "m:f"}, "python"),
        ({"prompt": "hi"}, "llm"),
        ({"messages": []}, "llm"),
        ({"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {}}, "llm"),
        ({"duration": 1}, "simulate"),
        ({"kind": "python", "duration": 1}, "python"),
    ],
)
def test_kind_inference(task: dict[str, Any], kind: str) -> None:
    kinds = lookup(make_kinds("llm"))
    assert parse([task], kinds=kinds)[0].kind == kind


def test_kind_cannot_be_inferred() -> None:
    [issue] = issues_of([{"id": "x", "text": "hi"}])
    assert issue.field == "kind" and issue.message.startswith("cannot infer kind")


def test_kind_must_be_a_name() -> None:
    [issue] = issues_of([{"kind": ["shell"], "command": "ls"}])
    assert issue.field == "kind"


def test_kind_spec_is_the_object_minus_common_fields() -> None:
    kinds = make_kinds()
    parse(
        [{"id": "a", "duration": 1, "fail_times": 2, "priority": "low", "tags": ["x"]}],
        kinds=lookup(kinds),
    )
    assert kinds["simulate"].seen == [{"duration": 1, "fail_times": 2}]  # type: ignore[attr-defined]


def test_openai_batch_line() -> None:
    kinds = make_kinds("llm")
    line = {
        "custom_id": "req-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    }
    [task] = parse([line], kinds=lookup(kinds))
    assert (task.id, task.kind) == ("req-1", "llm")
    assert kinds["llm"].seen == [  # type: ignore[attr-defined]
        {"method": "POST", "url": "/v1/chat/completions", "body": line["body"]}
    ]


def test_openai_batch_line_needs_a_string_custom_id() -> None:
    issues = issues_of([{"custom_id": 7, "body": {}}], kinds=lookup(make_kinds("llm")))
    assert [i.field for i in issues] == ["custom_id"]


def test_openai_batch_line_without_llm_kind() -> None:
    [issue] = issues_of([{"custom_id": "r", "body": {}}])
    assert (issue.field, issue.message) == ("kind", "unknown kind 'llm'")


# -- profiles ----------------------------------------------------------------------------

BUILDER = Profile(
    "builder",
    kind="shell",
    template={"command": "opencode run --agent builder {prompt}"},
    defaults={"retries": 1, "cwd": "/work", "priority": "high"},
    concurrency=3,
)


def test_profile_fills_the_command_as_one_shell_word() -> None:
    prompt = """fix "it" & don't $(rm -rf /) `x`; echo {pwned} \\ \n done"""
    [task] = parse([{"profile": "builder", "prompt": prompt}], profiles={"builder": BUILDER})
    assert task.kind == "shell" and task.profile == "builder"
    assert shlex.split(task.spec["command"]) == ["opencode", "run", "--agent", "builder", prompt]
    # the field that fed the template does not reach the (strict) kind
    assert task.spec == {"command": task.spec["command"], "cwd": "/work"}
    assert (task.retries, task.priority) == (1, PRIORITY_NAMES["high"])


def test_agent_is_an_alias_of_profile() -> None:
    [task] = parse([{"agent": "builder", "prompt": "go"}], profiles={"builder": BUILDER})
    assert task.profile == "builder"
    assert task.spec["command"] == "opencode run --agent builder go"


def test_task_fields_win_over_profile_defaults_and_templates() -> None:
    task = {"profile": "builder", "command": "make", "cwd": "/src", "retries": 5}
    [spec] = parse([task], profiles={"builder": BUILDER})
    assert spec.spec == {"command": "make", "cwd": "/src"}
    assert spec.retries == 5


def test_task_kind_wins_over_profile_kind() -> None:
    profile = Profile("sim", kind="shell", defaults={"duration": 1})
    [task] = parse([{"profile": "sim", "kind": "simulate"}], profiles={"sim": profile})
    assert task.kind == "simulate"


def test_profile_kind_wins_over_inference() -> None:
    # "prompt" would mean llm; the profile says shell.
    [task] = parse([{"profile": "builder", "prompt": "p"}], profiles={"builder": BUILDER})
    assert task.kind == "shell"


def test_template_values_that_are_not_strings_are_json_then_quoted() -> None:
    profile = Profile(
        "p", "shell", {"command": "tool {{literal}} --opts {opts} --n {n} --id {id}"}, {}
    )
    task = {"id": "t 1", "profile": "p", "opts": {"a": [1, "b c"]}, "n": 3}
    [spec] = parse([task], profiles={"p": profile})
    words = shlex.split(spec.spec["command"])
    assert words == ["tool", "{literal}", "--opts", '{"a": [1, "b c"]}', "--n", "3", "--id", "t 1"]


def test_template_needs_its_fields() -> None:
    profile = Profile("builder", "shell", {"command": "run {prompt} {prompt} {model}"})
    issues = issues_of([{"profile": "builder"}], profiles={"builder": profile})
    assert [(i.field, i.message) for i in issues] == [
        ("prompt", "profile 'builder' needs field 'prompt'"),
        ("model", "profile 'builder' needs field 'model'"),
    ]


def test_template_may_use_profile_defaults() -> None:
    profile = Profile("p", "shell", {"command": "llm -m {model} {prompt}"}, {"model": "small"})
    [task] = parse([{"profile": "p", "prompt": "hi"}], profiles={"p": profile})
    assert task.spec == {"command": "llm -m small hi"}


def test_unknown_profile_names_the_key_used() -> None:
    [issue] = issues_of([{"agent": "nobody", "duration": 0}], profiles={"builder": BUILDER})
    assert (issue.field, issue.message) == ("agent", 'unknown profile "nobody" (known: builder)')
    [issue] = issues_of([{"profile": "x", "duration": 0}])
    assert issue.field == "profile" and "none configured" in issue.message


def test_profile_and_agent_must_agree() -> None:
    profiles = {"builder": BUILDER}
    [task] = parse([{"profile": "builder", "agent": "builder", "prompt": "x"}], profiles=profiles)
    assert task.profile == "builder"
    [issue] = issues_of([{"profile": "builder", "agent": "other", "prompt": "x"}])
    assert issue.field == "agent" and "different profiles" in issue.message


def test_bad_template_from_the_api_is_an_issue() -> None:
    profile = Profile("p", "shell", {"command": "run {prompt"})
    [issue] = issues_of([{"profile": "p", "prompt": "x"}], profiles={"p": profile})
    assert issue.field == "profile" and "bad template" in issue.message


# -- streaming -------------------------------------------------------------------------


def test_tasks_are_yielded_before_the_input_ends() -> None:
    read: list[int] = []

    def lines() -> Iterator[str]:
        for i in range(1000):
            read.append(i)
            yield json.dumps({"duration": 0}) + "\n"

    class Stream:
        name = "<gen>"

        def read(self, size: int = -1) -> str:  # marks it as a stream
            raise AssertionError("iterated, not read")

        def __iter__(self) -> Iterator[str]:
            return lines()

    tasks = parse_tasks(Stream(), kinds=KINDS)  # type: ignore[arg-type]
    first = next(tasks)
    assert first.id == "1" and len(read) == 1
    assert sum(1 for _ in tasks) == 999


def test_nothing_is_yielded_after_a_problem_and_the_error_comes_at_the_end() -> None:
    objects = [{"duration": 0}, {"duration": "x"}, {"duration": 0}]
    tasks = parse_tasks(objects, kinds=KINDS)
    assert next(tasks).id == "1"
    with pytest.raises(TaskfileError) as caught:
        next(tasks)
    assert [i.line for i in caught.value.issues] == [2]


def test_whole_file_checks_run_after_the_last_task() -> None:
    tasks = parse_tasks([{"id": "a", "duration": 0, "depends_on": "b"}], kinds=KINDS)
    assert next(tasks).id == "a"
    with pytest.raises(TaskfileError):
        next(tasks)


def test_taskspec_field_order_is_what_the_fast_constructor_assumes() -> None:
    assert list(TaskSpec._fields) == [
        "id",
        "seq",
        "kind",
        "spec",
        "priority",
        "retries",
        "timeout_s",
        "depends_on",
        "scope",
        "resources",
        "profile",
        "description",
        "tags",
        "meta",
    ]


# -- the real kinds (skipped while they are not installed) --------------------------------


def _real_kind(name: str) -> Kind:
    from taskfleet.kinds import get_kind

    try:
        return get_kind(name)
    except Exception as exc:  # not written yet, or not importable
        pytest.skip(f"kind '{name}' not available: {exc}")


def test_real_shell_kind(tmp_path: Path) -> None:
    _real_kind("shell")
    path = write(tmp_path, "a.jsonl", jsonl({"id": "s", "command": "echo hi"}))
    [task] = read_all(path)
    assert (task.id, task.kind) == ("s", "shell")
    assert task.spec["command"] == "echo hi"


def test_real_simulate_kind() -> None:
    _real_kind("simulate")
    [task] = read_all([{"duration": 0}])
    assert task.kind == "simulate"


def test_real_registry_reports_unknown_kinds() -> None:
    _real_kind("shell")
    with pytest.raises(TaskfileError) as caught:
        read_all([{"kind": "no-such-kind"}])
    assert caught.value.issues[0].message.startswith("unknown kind 'no-such-kind'")
