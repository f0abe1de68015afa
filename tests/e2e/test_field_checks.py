"""What a task file may hold, through the CLI: unknown fields, meta, no tasks, llm keys."""

from __future__ import annotations

import csv
import io
import json

import pytest

from .helpers import Cli, describe

# The environment of a first run: no key, no endpoint of one's own.
NO_OPENAI = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}


def _nothing_stored(cli: Cli) -> None:
    assert cli.json("jobs", "--json") == []
    assert not (cli.cwd / "ran").exists(), "a task ran although the input was bad"


@pytest.mark.parametrize("command", ["run", "submit"])
def test_misspelled_fields_are_refused_with_the_nearest_name(cli: Cli, command: str) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "x", "command": "touch ran"},
            {"duration": 0.1, "retires": 5},
            {"command": "touch ran", "dependson": ["x"]},
        ],
    )

    proc = cli(command, "tasks.jsonl")

    assert proc.returncode == 2, describe(proc)
    lines = proc.stderr.splitlines()
    assert any(
        "tasks.jsonl:2: field 'retires': unknown field (did you mean 'retries'?)" in line
        for line in lines
    ), proc.stderr
    assert any(
        "tasks.jsonl:3: field 'dependson': unknown field (did you mean 'depends_on'?)" in line
        for line in lines
    ), proc.stderr
    assert proc.stdout.strip() == ""
    _nothing_stored(cli)


def test_a_profile_template_field_is_known(cli: Cli) -> None:
    (cli.cwd / "taskfleet.toml").write_text(
        '[profiles.echo]\nkind = "shell"\ncommand = "echo {prompt} > out.txt"\n'
    )
    cli.write_tasks("tasks.jsonl", [{"id": "p", "profile": "echo", "prompt": "hello"}])

    cli.ok("run", "tasks.jsonl", "-q")

    assert (cli.cwd / "out.txt").read_text() == "hello\n"


def test_meta_is_kept_and_shown_in_results(cli: Cli) -> None:
    meta = {"customer": "acme", "batch": [1, 2]}
    cli.write_tasks(
        "tasks.jsonl", [{"id": "a", "duration": 0, "meta": meta}, {"id": "b", "duration": 0}]
    )

    cli.ok("run", "tasks.jsonl", "--id", "m", "-q")

    a, b = cli.results("m")
    assert a["meta"] == meta
    assert "meta" not in b
    rows = list(csv.DictReader(io.StringIO(cli.ok("results", "m", "--format", "csv").stdout)))
    assert [json.loads(row["meta"]) if row["meta"] else None for row in rows] == [meta, None]


def test_meta_that_is_not_an_object_is_bad_input(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"command": "touch ran", "meta": "acme"}])

    proc = cli("run", "tasks.jsonl")

    assert proc.returncode == 2, describe(proc)
    assert "tasks.jsonl:1: field 'meta': expected a JSON object" in proc.stderr
    _nothing_stored(cli)


@pytest.mark.parametrize("command", ["run", "submit"])
def test_a_task_file_without_tasks_is_refused(cli: Cli, command: str) -> None:
    (cli.cwd / "empty.jsonl").write_text("// nothing yet\n\n")

    proc = cli(command, "empty.jsonl")

    assert proc.returncode == 2, describe(proc)
    assert "empty.jsonl: no tasks" in proc.stderr
    stdin = cli(command, "-", input="")
    assert stdin.returncode == 2 and "<stdin>: no tasks" in stdin.stderr, describe(stdin)
    _nothing_stored(cli)


def test_allow_empty_stores_a_job_of_no_tasks(cli: Cli) -> None:
    (cli.cwd / "empty.jsonl").write_text("")

    cli.ok("run", "empty.jsonl", "--allow-empty", "--id", "none", "-q")
    cli.ok("submit", "empty.jsonl", "--allow-empty", "--id", "later")

    assert cli.status("none")["total"] == 0
    assert cli.status("later")["total"] == 0


def test_llm_task_without_a_key_for_openai_is_refused_before_anything_runs(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [{"command": "touch ran"}, {"model": "gpt-4o-mini", "prompt": "hi"}],
    )

    proc = cli("run", "tasks.jsonl", env=NO_OPENAI)

    assert proc.returncode == 2, describe(proc)
    message = proc.stderr
    assert "tasks.jsonl:2: field 'endpoint'" in message, message
    for words in ("https://api.openai.com/v1", "OPENAI_API_KEY is not set", "OPENAI_BASE_URL"):
        assert words in message, message
    assert "[endpoints.default]" in message and "taskfleet.toml" in message, message
    assert "Name or service not known" not in message
    _nothing_stored(cli)


def test_llm_task_with_a_key_or_a_local_endpoint_is_accepted(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"model": "m", "prompt": "hi"}])

    with_key = cli("submit", "tasks.jsonl", env={**NO_OPENAI, "OPENAI_API_KEY": "sk-test"})
    assert with_key.returncode == 0, describe(with_key)
    (cli.cwd / "taskfleet.toml").write_text(
        '[endpoints.default]\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    local = cli("submit", "tasks.jsonl", env=NO_OPENAI)
    assert local.returncode == 0, describe(local)
    assert len(cli.json("jobs", "--json")) == 2


def test_llm_tasks_send_their_parameters_on_but_refuse_misspelt_common_fields(cli: Cli) -> None:
    key = {**NO_OPENAI, "OPENAI_API_KEY": "sk-test"}
    parameters = {"temperature": 0.2, "top_p": 0.9, "stop": ["x"], "seed": 1, "metadata": {}}
    cli.write_tasks(
        "good.jsonl", [{"model": "m", "prompt": "hi", "max_tokens": 5, **parameters, "top_k": 4}]
    )
    assert (good := cli("submit", "good.jsonl", env=key)).returncode == 0, describe(good)

    cli.write_tasks(
        "bad.jsonl",
        [
            {"model": "m", "prompt": "hi", "retires": 5},
            {"model": "m", "prompt": "hi", "temperature": 0, "dependson": ["1"]},
        ],
    )
    proc = cli("submit", "bad.jsonl", env=key)

    assert proc.returncode == 2, describe(proc)
    assert "bad.jsonl:1: field 'retires': unknown field (did you mean 'retries'?)" in proc.stderr
    assert "bad.jsonl:2: field 'dependson': unknown field (did you mean 'depends_on'?)" in (
        proc.stderr
    )
    assert len(cli.json("jobs", "--json")) == 1  # only the good file's job
