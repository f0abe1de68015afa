"""`taskfleet run` end to end: exit codes, summary, --json, -o, --quiet, inputs, query commands."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import (
    RESULT_KEYS,
    STATUS_KEYS,
    TASK_ROW_KEYS,
    Cli,
    describe,
    is_iso_utc,
)

# Later tasks end first, so input order and finishing order differ.
MIXED_TASKS = [
    {"id": "sim", "kind": "simulate", "duration": 0.3, "output": {"answer": 42}},
    {"id": "sh", "command": "echo hello; echo oops >&2"},
    {"id": "argv", "command": ["printf", "%s|", "a b", "c"]},
    {"id": "inferred", "duration": 0.0},
]


def test_all_succeed_exit_0_summary_and_results_in_input_order(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", MIXED_TASKS)

    proc = cli("run", "tasks.jsonl", "-j", "8", "--id", "ok1")

    assert proc.returncode == 0, describe(proc)
    summary = proc.stdout + proc.stderr
    assert "ok1" in summary
    assert "completed" in summary
    assert "4 succeeded" in summary
    status = cli.status("ok1")
    assert status["status"] == "completed"
    assert (status["total"], status["succeeded"], status["failed"]) == (4, 4, 0)

    # results: one record per task, in input order (not the order they ended in)
    records = cli.results("ok1")

    assert [r["id"] for r in records] == ["sim", "sh", "argv", "inferred"]
    for record in records:
        assert set(record) >= RESULT_KEYS
        assert record["status"] == "succeeded"
        assert record["attempts"] == 1
        assert record["error"] is None
        assert is_iso_utc(record["started_at"]) and is_iso_utc(record["finished_at"])
        assert isinstance(record["duration"], int | float) and record["duration"] >= 0
    by_id = {r["id"]: r for r in records}
    assert by_id["sim"]["kind"] == "simulate"
    assert by_id["sim"]["result"] == {"answer": 42}
    assert by_id["sim"]["duration"] >= 0.25
    shell = by_id["sh"]["result"]
    assert by_id["sh"]["kind"] == "shell"
    assert (shell["exit_code"], shell["stdout"], shell["stderr"]) == (0, "hello\n", "oops\n")
    assert shell["truncated"] is False
    assert by_id["argv"]["result"]["stdout"] == "a b|c|"
    assert by_id["inferred"]["kind"] == "simulate"


def test_failure_gives_exit_1_and_failed_listing(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "good", "command": "true"},
            {
                "id": "bad",
                "command": "echo first; echo 'disk is full' >&2; exit 3",
                "description": "writes the report",
            },
            {"id": "sim-bad", "duration": 0, "fail_times": 5, "retries": 1},
        ],
    )

    proc = cli("run", "tasks.jsonl", "--id", "f1", "--retries", "0", "--retry-delay", "0")

    assert proc.returncode == 1, describe(proc)
    assert "failed" in proc.stdout + proc.stderr
    status = cli.status("f1")
    assert (status["status"], status["succeeded"], status["failed"]) == ("failed", 1, 2)

    text = cli.ok("failed", "f1").stdout
    assert "bad" in text and "sim-bad" in text and "good" not in text
    assert "writes the report" in text
    assert "exit code 3" in text
    assert "disk is full" in text

    records = cli.jsonl("failed", "f1", "--format", "jsonl")
    assert [r["id"] for r in records] == ["bad", "sim-bad"]
    for record in records:
        assert set(record) >= {"id", "kind", "attempts", "error", "description"}
    bad, sim_bad = records
    assert (bad["kind"], bad["attempts"], bad["description"]) == ("shell", 1, "writes the report")
    assert "exit code 3" in bad["error"]
    assert (sim_bad["kind"], sim_bad["attempts"]) == ("simulate", 2)
    assert sim_bad["error"]


def test_run_json_prints_the_status_object(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", MIXED_TASKS)

    proc = cli("run", "tasks.jsonl", "--id", "js", "--name", "my batch", "--json")

    assert proc.returncode == 0, describe(proc)
    data = json.loads(proc.stdout)
    assert set(data) >= STATUS_KEYS
    assert data["job_id"] == "js"
    assert data["name"] == "my batch"
    assert data["status"] == "completed"
    assert data["total"] == 4
    assert data["succeeded"] == 4
    for key in ("pending", "queued", "running", "failed", "cancelled", "skipped"):
        assert data[key] == 0, key
    assert data["progress"] == 100
    for key in ("created_at", "started_at", "finished_at"):
        assert is_iso_utc(data[key]), key
    assert data["elapsed_seconds"] >= 0.25
    assert data["items_per_second"] > 0
    stored = cli.status("js")
    assert set(stored) >= STATUS_KEYS
    assert {k: stored[k] for k in STATUS_KEYS} == {k: data[k] for k in STATUS_KEYS}


def test_output_file_quiet_and_stdin(cli: Cli) -> None:
    lines = [
        json.dumps({"id": "x", "command": "echo x"}),
        "// a comment line",
        "",
        json.dumps({"duration": 0.01, "output": "four"}),
    ]

    proc = cli("run", "-", "--id", "st", "-o", "out.jsonl", "--quiet", input="\n".join(lines))

    assert proc.returncode == 0, describe(proc)
    assert proc.stdout == "st\n"  # the job id and nothing else, for scripts
    assert proc.stderr == ""
    records = [json.loads(line) for line in (cli.cwd / "out.jsonl").read_text().splitlines()]
    # A task without an id is named after its line number (comments and blanks count).
    assert [r["id"] for r in records] == ["x", "4"]
    assert all(set(r) >= RESULT_KEYS for r in records)
    assert [r["status"] for r in records] == ["succeeded", "succeeded"]
    assert records[0]["result"]["stdout"] == "x\n"
    assert records[1]["result"] == "four"


def test_json_array_input_compact(cli: Cli) -> None:
    tasks = [{"id": "a", "command": "echo a"}, {"duration": 0, "output": 2}]
    (cli.cwd / "tasks.json").write_text(json.dumps(tasks, separators=(",", ":")))

    cli.ok("run", "tasks.json", "--id", "arr", "--quiet")

    records = cli.results("arr")
    # A task without an id is named after its element number.
    assert [(r["id"], r["status"]) for r in records] == [("a", "succeeded"), ("2", "succeeded")]


def test_json_array_input_pretty_printed(cli: Cli) -> None:
    tasks = [
        {"id": "a", "command": "echo a"},
        {"id": "b", "duration": 0, "output": "b"},
        {"id": "c", "command": "echo c"},
    ]
    (cli.cwd / "tasks.json").write_text(json.dumps(tasks, indent=2))

    proc = cli("run", "tasks.json", "--id", "arr", "--quiet")

    assert proc.returncode == 0, describe(proc)
    records = cli.results("arr")
    assert [(r["id"], r["status"]) for r in records] == [
        ("a", "succeeded"),
        ("b", "succeeded"),
        ("c", "succeeded"),
    ]


def test_results_formats_and_filters(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "one", "duration": 0.1, "output": {"n": 1}},
            {"id": "two", "command": "exit 4", "retries": 0},
            {"id": "three", "duration": 0, "output": [3, "x"]},
        ],
    )
    assert cli("run", "tasks.jsonl", "--id", "fmt", "--quiet").returncode == 1

    as_json = cli.json("results", "fmt", "--format", "json")
    assert [r["id"] for r in as_json] == ["one", "two", "three"]
    assert all(set(r) >= RESULT_KEYS for r in as_json)
    assert as_json == cli.results("fmt", "--format", "jsonl")
    assert as_json[0]["result"] == {"n": 1}
    assert as_json[1]["status"] == "failed"
    assert as_json[1]["result"]["exit_code"] == 4
    assert "exit code 4" in as_json[1]["error"]

    rows = list(csv.DictReader(io.StringIO(cli.ok("results", "fmt", "--format", "csv").stdout)))
    assert [row["id"] for row in rows] == ["one", "two", "three"]
    assert set(rows[0]) >= RESULT_KEYS
    assert json.loads(rows[0]["result"]) == {"n": 1}
    assert json.loads(rows[2]["result"]) == [3, "x"]
    assert [row["status"] for row in rows] == ["succeeded", "failed", "succeeded"]
    assert rows[1]["attempts"] == "1"

    only_failed = cli.results("fmt", "--status", "failed")
    assert [r["id"] for r in only_failed] == ["two"]
    only_ok = cli.results("fmt", "--status", "succeeded")
    assert [r["id"] for r in only_ok] == ["one", "three"]

    cli.ok("results", "fmt", "-o", "res.jsonl")
    written = [json.loads(line) for line in (cli.cwd / "res.jsonl").read_text().splitlines()]
    assert written == as_json


def test_tasks_json_rows(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "a", "duration": 0, "priority": "high"},
            {"id": "b", "command": "exit 1", "retries": 0},
            {"id": "c", "command": "true", "depends_on": ["b"]},
        ],
    )
    assert cli("run", "tasks.jsonl", "--id", "tj", "--quiet").returncode == 1

    rows = cli.json("tasks", "tj", "--json")

    assert [row["id"] for row in rows] == ["a", "b", "c"]
    for row in rows:
        assert set(row) >= TASK_ROW_KEYS
    by_id = {row["id"]: row for row in rows}
    assert (by_id["a"]["kind"], by_id["a"]["status"], by_id["a"]["attempts"]) == (
        "simulate",
        "succeeded",
        1,
    )
    assert by_id["a"]["error"] is None
    assert (by_id["b"]["status"], by_id["b"]["attempts"]) == ("failed", 1)
    assert "exit code 1" in by_id["b"]["error"]
    assert (by_id["c"]["status"], by_id["c"]["attempts"]) == ("skipped", 0)
    # high outranks the default (medium), whatever the representation
    assert by_id["a"]["priority"] != by_id["b"]["priority"]

    skipped = cli.json("tasks", "tj", "--json", "--status", "skipped")
    assert [row["id"] for row in skipped] == ["c"]


def test_jobs_lists_newest_first_with_unique_default_ids(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "a", "duration": 0}])
    cli.ok("run", "tasks.jsonl", "--id", "first", "--quiet")
    cli.ok("run", "tasks.jsonl", "--quiet")  # a new unique id

    jobs = cli.json("jobs", "--json")

    assert len(jobs) == 2
    assert jobs[1]["job_id"] == "first"
    assert jobs[0]["job_id"] not in ("", "first")
    assert all(set(job) >= STATUS_KEYS for job in jobs)
    assert [job["status"] for job in jobs] == ["completed", "completed"]
    limited = cli.json("jobs", "--json", "--status", "completed", "--limit", "1")
    assert [job["job_id"] for job in limited] == [jobs[0]["job_id"]]


@pytest.mark.slow
def test_plain_progress_line_when_stderr_is_not_a_terminal(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": str(i), "duration": 0.45} for i in range(5)])

    started = time.monotonic()
    proc = cli("run", "tasks.jsonl", "-j", "1", "--id", "prog")
    wall_s = time.monotonic() - started

    assert proc.returncode == 0, describe(proc)
    progress = [line for line in proc.stderr.splitlines() if "prog" in line]
    # about 2.3 s of work: a line at most every 2 s, no terminal escape codes
    assert 1 <= len(progress) <= wall_s / 2, proc.stderr
    assert "\x1b[" not in proc.stderr
    assert "/5" in progress[0], progress


PY_MODULE = """\
import asyncio


def double(x):
    return {"double": 2 * x}


async def greet(name, punctuation="!"):
    await asyncio.sleep(0.01)
    return f"hello {name}{punctuation}"


def explode():
    raise KeyError("missing-key")
"""


def test_python_tasks_from_the_cli(cli: Cli) -> None:
    (cli.cwd / "jobfns.py").write_text(PY_MODULE)
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "sync", "function": "jobfns:double", "args": [21]},
            {"id": "async", "function": "jobfns:greet", "args": ["you"], "kwargs": {}},
            {"id": "kw", "kind": "python", "function": "jobfns:greet", "kwargs": {"name": "k"}},
            {"id": "boom", "function": "jobfns:explode", "retries": 0},
            {"id": "gone", "function": "jobfns:no_such_function", "retries": 3},
        ],
    )

    run = cli.run_job("run", "tasks.jsonl", "--id", "py", env={"PYTHONPATH": str(cli.cwd)})

    assert run.code == 1, describe(run.proc)
    records = run.tasks
    assert records["sync"]["result"] == {"double": 42}
    assert records["async"]["result"] == "hello you!"
    assert records["kw"]["result"] == "hello k!"
    assert all(records[t]["kind"] == "python" for t in records)
    boom = records["boom"]
    assert boom["status"] == "failed" and boom["result"] is None
    assert "KeyError" in boom["error"] and "missing-key" in boom["error"]
    assert "Traceback" in boom["error"] and "explode" in boom["error"]
    # a function that cannot be found is not worth retrying
    gone = records["gone"]
    assert (gone["status"], gone["attempts"]) == ("failed", 1)
    assert "no_such_function" in gone["error"]


def test_console_script_imports_python_tasks_from_the_current_directory(cli: Cli) -> None:
    (cli.cwd / "jobfns.py").write_text(PY_MODULE)
    cli.write_tasks("tasks.jsonl", [{"id": "sync", "function": "jobfns:double", "args": [1]}])
    script = Path(sys.executable).with_name("taskfleet")

    proc = subprocess.run(
        [str(script), "run", "tasks.jsonl", "--id", "script", "--json"],
        cwd=cli.cwd,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 0, cli.results("script")
    assert cli.results("script")[0]["result"] == {"double": 2}


def test_shell_fields_env_cwd_stdin_and_output_tail(cli: Cli) -> None:
    (cli.cwd / "sub").mkdir()
    cli.write_tasks(
        "tasks.jsonl",
        [
            {
                "id": 7,  # numbers are turned into strings
                "command": 'cat; echo "$GREETING"; pwd',
                "env": {"GREETING": "hi there"},
                "stdin": "from stdin\n",
                "cwd": "sub",
            },
            {"id": "big", "command": "head -c 100000 /dev/zero | tr '\\0' a; echo END"},
        ],
    )

    run = cli.run_job("run", "tasks.jsonl", "--id", "fields")

    assert run.code == 0, describe(run.proc)
    small, big = run.tasks.values()
    assert small["id"] == "7"
    assert small["result"]["stdout"] == f"from stdin\nhi there\n{cli.cwd / 'sub'}\n"
    out = big["result"]["stdout"]
    assert big["result"]["truncated"] is True
    assert out.endswith("aEND\n")
    assert 60 * 1024 <= len(out.encode()) <= 64 * 1024
