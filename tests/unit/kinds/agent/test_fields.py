"""The agent kind's fields, its inference from a task file, and repo/base recorded at submit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from taskfleet.config.profiles import parse_profile
from taskfleet.errors import ConfigError, FieldError, TaskfileError
from taskfleet.input.taskfile import read_all
from taskfleet.kinds.agent import AgentKind
from taskfleet.kinds.agent.external import fill_command

from .conftest import git


def test_defaults_and_required_prompt() -> None:
    assert AgentKind().parse({"prompt": "do it"}) == {"prompt": "do it", "max_loops": 5}
    with pytest.raises(FieldError) as caught:
        AgentKind().parse({"check_command": "true"})
    assert caught.value.field == "prompt"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_loops", 0),
        ("max_loops", True),
        ("max_cost", -1),
        ("max_tokens", "many"),
        ("check_command", ""),
        ("command", "agent {nope}"),
        ("idle_timeout", 0),
        ("colour", "blue"),
    ],
)
def test_bad_fields_are_named(field: str, value: Any) -> None:
    with pytest.raises(FieldError) as caught:
        AgentKind().parse({"prompt": "p", field: value})
    assert caught.value.field == field


def _tasks(tmp_path: Path, tasks: list[dict[str, Any]], **options: Any) -> Any:
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return read_all(path, **options)


def test_inference_records_repo_base_and_scope(tmp_path: Path, repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    tasks = [
        {"id": "a", "prompt": "p", "check_command": "true"},
        {"id": "b", "kind": "agent", "description": "from the description", "scope": ["src"]},
        {"id": "c", "prompt": "plain llm", "model": "m"},
    ]
    a, b, c = _tasks(tmp_path, tasks, agent_repo=str(repo / "src"))
    assert (a.kind, b.kind, c.kind) == ("agent", "agent", "llm")
    assert a.spec["repo"] == str(repo) and a.spec["base"] == head
    assert b.spec["prompt"] == "from the description"
    # No scope: it may change anything, and so it runs alone.
    assert (a.scope, b.scope) == (("**",), ("src",))


def test_a_named_base_is_resolved_to_its_commit(tmp_path: Path, repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "x").write_text("x\n")
    git(repo, "add", "x")
    git(repo, "commit", "-qm", "second")
    (task,) = _tasks(
        tmp_path, [{"kind": "agent", "prompt": "p", "repo": str(repo), "base": "HEAD~1"}]
    )
    assert task.spec["base"] == first


def test_a_repo_that_is_not_one_names_file_line_and_field(tmp_path: Path, repo: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    tasks = [
        {"kind": "agent", "prompt": "p", "repo": str(repo)},
        {"kind": "agent", "prompt": "p", "repo": str(plain)},
        {"kind": "agent", "prompt": "p", "repo": str(repo), "base": "no-such-branch"},
    ]
    with pytest.raises(TaskfileError) as caught:
        _tasks(tmp_path, tasks)
    issues = [(i.line, i.field) for i in caught.value.issues]
    assert issues == [(2, "repo"), (3, "base")]
    assert "not a git repository" in str(caught.value)


def test_an_agent_profile_keeps_its_command_a_template_for_each_turn() -> None:
    profile = parse_profile(
        "claude", {"kind": "agent", "command": "claude -p {prompt}", "idle_timeout": 60}, "t.toml"
    )
    assert profile.template == {}
    assert profile.defaults == {"command": "claude -p {prompt}", "idle_timeout": 60}
    with pytest.raises(ConfigError, match="needs a command"):
        parse_profile("x", {"kind": "agent"}, "t.toml")
    with pytest.raises(ConfigError, match="idle_timeout"):
        parse_profile("x", {"kind": "agent", "command": "a {prompt}", "idle_timeout": -1}, "t")


def test_fill_command_quotes_and_feeds_back() -> None:
    assert fill_command("a -p {prompt}", "it's", None, "t1") == "a -p 'it'\"'\"'s'"
    with_feedback = fill_command("a {prompt} --fix {check_output}", "p", "bad; rm -rf /", "t")
    assert with_feedback == "a p --fix 'bad; rm -rf /'"
    # No {check_output}: the feedback goes into the prompt (the CLI forgets its last turn).
    assert "FAILED" in fill_command("a {prompt}", "p", "FAILED", "t")
