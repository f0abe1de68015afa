"""Bad input is rejected before anything runs: exit 2, file:line and field named, nothing stored."""

from __future__ import annotations

import json
import re

import pytest

from .helpers import Cli, describe

GOOD = json.dumps({"id": "ok", "command": "touch ran-ok"})

# (name, lines of tasks.jsonl, bad line number, field named in the message, other words)
CASES = [
    (
        "unknown_kind",
        [GOOD, json.dumps({"id": "b", "kind": "teleport", "command": "true"})],
        2,
        "kind",
        ["teleport"],
    ),
    (
        "duplicate_id",
        [GOOD, json.dumps({"id": "b", "command": "true"}), json.dumps({"id": "b", "duration": 0})],
        3,
        "id",
        ["duplicate", "b"],
    ),
    (
        "unknown_dependency",
        [GOOD, json.dumps({"id": "b", "command": "true", "depends_on": ["ghost"]})],
        2,
        "depends_on",
        ["ghost"],
    ),
    (
        "dependency_cycle",
        [
            GOOD,
            json.dumps({"id": "a", "command": "true", "depends_on": ["c"]}),
            json.dumps({"id": "b", "command": "true", "depends_on": ["a"]}),
            json.dumps({"id": "c", "command": "true", "depends_on": ["b"]}),
        ],
        None,  # any line of the cycle
        "depends_on",
        ["cycle"],
    ),
    (
        "retries_is_text",
        [GOOD, json.dumps({"id": "b", "command": "true", "retries": "two"})],
        2,
        "retries",
        [],
    ),
    (
        "simulate_duration_is_text",
        [GOOD, json.dumps({"id": "b", "kind": "simulate", "duration": "long"})],
        2,
        "duration",
        [],
    ),
    (
        "unknown_resource",
        [GOOD, json.dumps({"id": "b", "command": "true", "resources": ["gpu"]})],
        2,
        "resources",
        ["gpu"],
    ),
    ("malformed_json_line", [GOOD, "", '{"id": "b", "command": "true"'], 3, None, []),
]


def _assert_nothing_stored(cli: Cli) -> None:
    assert cli.json("jobs", "--json") == []
    assert not (cli.cwd / "ran-ok").exists(), "a task ran although the input was bad"


@pytest.mark.parametrize(
    ("lines", "line", "field", "words"),
    [pytest.param(lines, line, field, words, id=name) for name, lines, line, field, words in CASES],
)
def test_bad_task_file_is_rejected(
    cli: Cli, lines: list[str], line: int | None, field: str | None, words: list[str]
) -> None:
    (cli.cwd / "tasks.jsonl").write_text("\n".join(lines) + "\n")

    proc = cli("run", "tasks.jsonl", "--id", "bad")

    assert proc.returncode == 2, describe(proc)
    message = proc.stderr
    if line is None:
        assert re.search(r"tasks\.jsonl:[234]\b", message), message
    else:
        assert f"tasks.jsonl:{line}" in message, message
    if field is not None:
        assert field in message, message
    for word in words:
        assert word in message, message
    _assert_nothing_stored(cli)


def test_submit_rejects_bad_input_too(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "a", "command": "true", "retries": "two"}])

    proc = cli("submit", "tasks.jsonl")

    assert proc.returncode == 2, describe(proc)
    assert "tasks.jsonl:1" in proc.stderr and "retries" in proc.stderr
    assert proc.stdout.strip() == ""
    assert cli.json("jobs", "--json") == []


def test_bad_stdin_names_stdin_and_line(cli: Cli) -> None:
    text = GOOD + "\n" + json.dumps({"id": "b", "command": "true", "timeout": "soon"}) + "\n"

    proc = cli("run", "-", input=text)

    assert proc.returncode == 2, describe(proc)
    assert "stdin" in proc.stderr and ":2" in proc.stderr and "timeout" in proc.stderr
    _assert_nothing_stored(cli)


def test_bad_element_of_json_array(cli: Cli) -> None:
    tasks = [
        {"id": "ok", "command": "touch ran-ok"},
        {"id": "b", "command": "true"},
        {"id": "c", "command": "true", "retries": "two"},
    ]
    # one element per line: the line of an element is its line in the file
    text = "[\n" + ",\n".join(json.dumps(task) for task in tasks) + "\n]\n"
    (cli.cwd / "tasks.json").write_text(text)

    proc = cli("run", "tasks.json")

    assert proc.returncode == 2, describe(proc)
    assert "tasks.json:4" in proc.stderr and "retries" in proc.stderr, proc.stderr
    _assert_nothing_stored(cli)


def test_every_problem_is_reported_with_its_line_and_field(cli: Cli) -> None:
    bad = [
        ({"id": "a", "what": "no kind can be inferred"}, "kind"),
        ({"id": "b", "command": "true", "priority": "urgent"}, "priority"),
        ({"id": "c", "command": "true", "scope": 5}, "scope"),
        ({"id": "d", "kind": "shell", "command": 5}, "command"),
        ({"id": "e", "kind": "python", "function": "not a reference"}, "function"),
        ({"id": "f", "command": "true", "depends_on": ["f"]}, "depends_on"),
        ({"id": "g", "profile": "nobody", "command": "true"}, "profile"),
        ({"id": "h", "duration": 0, "fail_rate": 2}, "fail_rate"),
        ({"id": "i", "command": "true", "tags": [1]}, "tags"),
        ({"id": "j", "command": "true", "timeout": -1}, "timeout"),
        ({"id": "k", "command": "true", "depends_on": {"a": 1}}, "depends_on"),
    ]
    lines = [GOOD] + [json.dumps(task) for task, _ in bad] + ["[1, 2]"]
    (cli.cwd / "tasks.jsonl").write_text("\n".join(lines) + "\n")

    proc = cli("run", "tasks.jsonl")

    assert proc.returncode == 2, describe(proc)
    messages = proc.stderr.splitlines()
    for line_no, (_, field) in enumerate(bad, start=2):
        about_line = [m for m in messages if f"tasks.jsonl:{line_no}:" in m]
        assert about_line, f"line {line_no} not reported:\n{proc.stderr}"
        assert any(field in m for m in about_line), f"field {field!r} not named: {about_line}"
    assert any(f"tasks.jsonl:{len(lines)}" in m for m in messages), proc.stderr
    _assert_nothing_stored(cli)


def test_missing_file(cli: Cli) -> None:
    proc = cli("run", "no-such-file.jsonl")

    assert proc.returncode == 2, describe(proc)
    assert "no-such-file.jsonl" in proc.stderr
    assert cli.json("jobs", "--json") == []


def test_bad_usage_exits_2(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "ok", "command": "touch ran-ok"}])

    for args in (
        ["run", "tasks.jsonl", "-j", "0"],
        ["run", "tasks.jsonl", "--retries", "-1"],
        ["run", "tasks.jsonl", "--no-such-flag"],
        ["no-such-command"],
    ):
        proc = cli(*args)
        assert proc.returncode == 2, describe(proc)
    _assert_nothing_stored(cli)
