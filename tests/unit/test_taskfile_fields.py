"""taskfile: which fields a task may give, ``meta``, and the API key of llm endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from taskfleet.config.profiles import profiles_from_mapping
from taskfleet.errors import TaskfileError, TaskfileIssue
from taskfleet.input.taskfile import read_all
from taskfleet.kinds import get_kind
from taskfleet.kinds.base import declared_fields
from taskfleet.model import Outcome, TaskSpec


def issues_of(source: Any, **options: Any) -> list[TaskfileIssue]:
    with pytest.raises(TaskfileError) as caught:
        read_all(source, **options)
    return caught.value.issues


def shown(issues: list[TaskfileIssue]) -> list[str]:
    return [str(issue) for issue in issues]


# -- unknown fields ------------------------------------------------------------------


def test_misspelled_common_fields_are_refused_with_the_nearest_name() -> None:
    tasks = [
        {"duration": 0.1, "retires": 5},
        {"command": "true", "dependson": ["x"]},
        {"function": "m:f", "timout": 3},
    ]
    assert shown(issues_of(tasks, source_name="t.jsonl")) == [
        "t.jsonl:1: field 'retires': unknown field (did you mean 'retries'?)",
        "t.jsonl:2: field 'dependson': unknown field (did you mean 'depends_on'?)",
        "t.jsonl:3: field 'timout': unknown field (did you mean 'timeout'?)",
    ]


def test_misspelled_kind_fields_are_refused_with_the_nearest_name() -> None:
    [issue] = issues_of([{"kind": "shell", "comand": "true", "command": "true"}])
    assert (issue.line, issue.field) == (1, "comand")
    assert issue.message == "unknown field (did you mean 'command'?)"


def test_a_field_of_another_kind_says_whose_it_is() -> None:
    [issue] = issues_of([{"command": "true", "duration": 1}])
    assert issue.field == "duration"
    assert issue.message == "a field of kind 'simulate', not of kind 'shell'"


def test_a_field_like_nothing_known_lists_what_the_kind_takes() -> None:
    [issue] = issues_of([{"duration": 0, "customer": "acme"}])
    assert issue.field == "customer"
    assert "kind 'simulate' takes duration, fail_rate, fail_times, output" in issue.message
    assert "'meta'" in issue.message


def test_every_field_of_every_built_in_kind_is_accepted() -> None:
    tasks = [
        {"command": "true", "cwd": ".", "env": {"A": "1"}, "stdin": "x"},
        {"function": "m:f", "args": [1], "kwargs": {"a": 1}, "executor": "thread"},
        {"duration": 0, "fail_rate": 0, "fail_times": 0, "output": 1},
        {"kind": "fs", "op": "write", "path": "a", "content": "x"},
        {"kind": "fs", "op": "command", "path": ".", "command": "true"},
    ]
    common = {"priority": "high", "retries": 1, "timeout": 5, "scope": ["a"], "tags": ["t"]}
    common |= {"description": "d", "meta": {"k": 1}, "resources": [], "depends_on": []}
    parsed = read_all([{**task, **common} for task in tasks])
    assert [task.kind for task in parsed] == ["shell", "python", "simulate", "fs", "fs"]


def test_built_in_kinds_declare_their_fields_and_llm_takes_any() -> None:
    assert declared_fields(get_kind("shell")) == {"command", "cwd", "env", "stdin"}
    assert declared_fields(get_kind("llm")) is None


class PluginWithoutFields:
    """A plug-in kind written before ``fields``: it takes anything."""

    name = "plugin"

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return dict(spec)

    async def run(self, spec: Mapping[str, Any], ctx: Any) -> Outcome:
        return Outcome.success()


class PluginWithFields(PluginWithoutFields):
    fields = frozenset({"colour"})


def test_a_plugin_without_fields_takes_any_field_one_with_fields_does_not() -> None:
    loose, strict = PluginWithoutFields(), PluginWithFields()
    [task] = read_all([{"kind": "plugin", "anything": 1}], kinds=lambda name: loose)
    assert task.spec == {"anything": 1}
    [issue] = issues_of([{"kind": "plugin", "color": 1}], kinds=lambda name: strict)
    assert issue.message == "unknown field (did you mean 'colour'?)"


def test_llm_parameters_are_sent_on_as_they_are() -> None:
    task = {"model": "m", "prompt": "hi", "temperature": 0.2, "some_new_parameter": [1]}
    [parsed] = read_all([task])
    assert parsed.spec["body"]["some_new_parameter"] == [1]


def test_batch_line_fields_are_checked_and_its_body_is_free() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "free": {"a": 1}}
    line = {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": body}
    [parsed] = read_all([{**line, "retries": 1}])
    assert parsed.spec["body"]["free"] == {"a": 1}
    [issue] = issues_of([{**line, "methd": "POST"}])
    assert (issue.field, issue.message) == ("methd", "unknown field (did you mean 'method'?)")


# -- profiles ----------------------------------------------------------------------


PROFILES = profiles_from_mapping(
    {
        "builder": {"kind": "shell", "command": "build {prompt} --model {model}", "model": "m1"},
        "sloppy": {"kind": "shell", "colour": "red"},
    }
)


def test_template_fields_are_known_to_tasks_of_the_profile() -> None:
    tasks = [
        {"profile": "builder", "prompt": "x"},
        # Its own command wins over the template: prompt is then left unused, not unknown.
        {"profile": "builder", "prompt": "x", "command": "true"},
    ]
    parsed = read_all(tasks, profiles=PROFILES)
    assert [task.spec["command"] for task in parsed] == ["build x --model m1", "true"]
    issues = issues_of([{"profile": "builder", "promt": "x"}], profiles=PROFILES)
    assert [issue.field for issue in issues] == ["prompt", "promt"]  # needed, and misspelled
    # A task without the profile does not know the profile's template fields.
    [issue] = issues_of([{"command": "true", "prompt": "x"}], profiles=PROFILES)
    assert issue.field == "prompt"


def test_an_unknown_field_a_profile_sets_is_reported_once_naming_the_profile() -> None:
    tasks = [{"profile": "sloppy", "command": "true"}] * 3
    issues = issues_of(tasks, profiles=PROFILES, source_name="t.jsonl")
    assert shown(issues) == [
        "t.jsonl:1: field 'profile': profile 'sloppy' sets 'colour': unknown field: "
        "kind 'shell' takes command, cwd, env, stdin besides the common fields; "
        "put data of your own in 'meta'"
    ]


# -- meta ------------------------------------------------------------------------------


def test_meta_is_kept_with_the_task_apart_from_the_kind_fields() -> None:
    [task] = read_all([{"duration": 0, "meta": {"customer": "acme", "n": [1, 2]}}])
    assert task.meta == {"customer": "acme", "n": [1, 2]}
    assert "meta" not in task.spec
    [plain] = read_all([{"duration": 0}])
    assert plain.meta is None


@pytest.mark.parametrize(
    ("meta", "words"),
    [
        ([1], "expected a JSON object, got [1]"),
        ("text", "expected a JSON object"),
        ({"when": object()}, "must hold JSON values only"),
        ({"x": float("nan")}, "must hold JSON values only"),
    ],
)
def test_meta_must_be_a_json_object(meta: Any, words: str) -> None:
    [issue] = issues_of([{"duration": 0, "meta": meta}])
    assert issue.field == "meta"
    assert words in issue.message


def test_meta_is_a_copy() -> None:
    meta = {"a": [1]}
    [task] = read_all([{"duration": 0, "meta": meta}])
    meta["a"].append(2)
    assert task.meta == {"a": [1]}


def test_taskspec_carries_meta_last() -> None:
    assert TaskSpec._fields[-1] == "meta"


# -- API keys of llm endpoints -------------------------------------------------------------

LLM = {"model": "gpt-4o-mini", "prompt": "hi"}


def test_the_default_openai_endpoint_without_a_key_is_refused_once() -> None:
    issues = issues_of([LLM, LLM, {"duration": 0}], environ={}, source_name="t.jsonl")
    [issue] = issues
    assert (issue.line, issue.field) == (1, "endpoint")
    for words in ("https://api.openai.com/v1", "OPENAI_API_KEY is not set", "OPENAI_BASE_URL"):
        assert words in issue.message
    assert "[endpoints.default]" in issue.message and "taskfleet.toml" in issue.message


@pytest.mark.parametrize(
    ("environ", "endpoints"),
    [
        ({"OPENAI_API_KEY": "sk-x"}, {}),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, {}),
        ({}, {"default": {"base_url": "http://127.0.0.1:11434/v1"}}),
        ({"MY_KEY": "k"}, {"default": {"api_key_env": "MY_KEY"}}),
    ],
)
def test_an_endpoint_with_a_key_or_needing_none_is_fine(
    environ: dict[str, str], endpoints: dict[str, Any]
) -> None:
    [task] = read_all([LLM], environ=environ, endpoints=endpoints)
    assert task.kind == "llm"


def test_a_named_endpoint_is_checked_with_its_own_key_variable() -> None:
    endpoints = {"openai": {"base_url": "https://api.openai.com/v1", "api_key_env": "MY_KEY"}}
    [issue] = issues_of([{**LLM, "endpoint": "openai"}], environ={}, endpoints=endpoints)
    assert "MY_KEY is not set" in issue.message and "[endpoints.openai]" in issue.message


def test_without_an_environment_keys_are_not_checked() -> None:
    [task] = read_all([LLM])
    assert task.kind == "llm"
