"""The everyday command line: -q, resume of an ended job, rendering, `failed`, consistent flags."""

from __future__ import annotations

import json
import re

import click
import pytest

from taskfleet.cli.main import cli as root_group

from .helpers import Cli, describe

ONE_FAILING = [
    {"id": "ok", "duration": 0},
    {"id": "bad", "command": "echo broken >&2; exit 3", "retries": 0},
]
# What pytest does: its verdict on stdout, nothing on stderr, exit code 1 or 2.
PYTEST_LIKE = (
    "printf '%s\\n' '..F' '=========== FAILURES ===========' 'E   assert 1 == 2'; "
    "printf '\\033[31m====== 1 failed, 2 passed in 0.12s ======\\033[0m\\n\\n'; exit 2"
)


# -- -q / --quiet ---------------------------------------------------------------


def test_quiet_prints_the_job_id_and_nothing_else(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", ONE_FAILING)

    run = cli("run", "tasks.jsonl", "-q")

    assert run.returncode == 1, describe(run)
    job_id = run.stdout.strip()
    assert re.fullmatch(r"job-[\w-]+\n", run.stdout), run.stdout
    assert run.stderr == ""
    assert cli.status(job_id)["failed"] == 1  # what a script captured works as a JOB

    retry = cli("retry", job_id[:-2], "--quiet")
    assert (retry.returncode, retry.stdout, retry.stderr) == (1, job_id + "\n", "")
    resume = cli("resume", "last", "-q")
    assert (resume.returncode, resume.stdout, resume.stderr) == (1, job_id + "\n", "")
    submitted = cli("submit", "tasks.jsonl", "--id", "s1", "-q")
    assert (submitted.returncode, submitted.stdout, submitted.stderr) == (0, "s1\n", "")


def test_quiet_with_json_prints_the_json_summary(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "a", "duration": 0}])

    proc = cli("run", "tasks.jsonl", "--id", "qj", "-q", "--json")

    assert proc.returncode == 0, describe(proc)
    assert json.loads(proc.stdout)["job_id"] == "qj"


# -- resume or retry of an ended job ------------------------------------------


def test_resume_of_an_ended_job_says_there_is_nothing_to_resume(cli: Cli) -> None:
    cli.write_tasks("good.jsonl", [{"id": "a", "duration": 0}])
    cli.write_tasks("bad.jsonl", ONE_FAILING)
    cli.ok("run", "good.jsonl", "--id", "done", "-q")
    assert cli("run", "bad.jsonl", "--id", "broke", "-q").returncode == 1

    completed = cli("resume", "done")
    assert completed.returncode == 0, describe(completed)
    assert "nothing to resume" in completed.stderr
    assert "completed" in completed.stderr

    failed = cli("resume", "broke")
    assert failed.returncode == 1, describe(failed)  # the job's usual exit code
    assert "nothing to resume" in failed.stderr
    assert "taskfleet retry broke" in failed.stderr
    assert cli.status("broke")["succeeded"] == 1  # nothing ran again

    nothing_to_retry = cli("retry", "done")
    assert nothing_to_retry.returncode == 0, describe(nothing_to_retry)
    assert "nothing to retry" in nothing_to_retry.stderr


# -- rendering: '-' for missing values, plurals -----------------------------------


def test_human_output_has_no_none_and_counts_in_words(cli: Cli) -> None:
    cli.write_tasks("one.jsonl", [{"id": "only", "duration": 0}])
    cli.write_tasks("two.jsonl", ONE_FAILING)
    cli.ok("submit", "one.jsonl", "--id", "waiting")  # never started: no times, no ETA
    assert cli("run", "two.jsonl", "--id", "ran", "-q").returncode == 1

    waiting = cli.ok("status", "waiting").stdout
    assert "(1 task)" in waiting
    assert re.search(r"^\s+started\s+-$", waiting, re.MULTILINE), waiting
    assert re.search(r"^\s+finished\s+-$", waiting, re.MULTILINE), waiting
    assert "ETA -" in waiting
    assert "(2 tasks)" in cli.ok("status", "ran").stdout

    outputs = {
        "status": cli.ok("status", "waiting").stdout + cli.ok("status", "ran").stdout,
        "jobs": cli.ok("jobs").stdout,
        "tasks": cli.ok("tasks", "waiting").stdout + cli.ok("tasks", "ran").stdout,
        "failed": cli.ok("failed", "ran").stdout,
    }
    for command, text in outputs.items():
        assert "None" not in text, f"{command}:\n{text}"
    assert "1 failed task:" in outputs["failed"]
    waiting_row = next(line for line in outputs["jobs"].splitlines() if "waiting" in line)
    assert waiting_row.split()[-1] == "-"  # no name was given
    assert re.search(r"^only\s+simulate\s+queued\s+0\s+\d+\s+-$", outputs["tasks"], re.MULTILINE)


# -- failed: the reason, from stderr else stdout -------------------------------------


def test_failed_shows_the_last_meaningful_line_of_stderr_else_stdout(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "pytest", "command": PYTEST_LIKE, "retries": 0},
            {"id": "both", "command": "echo out; echo 'err line' >&2; exit 1", "retries": 0},
            {"id": "silent", "command": "exit 4", "retries": 0},
        ],
    )
    assert cli("run", "tasks.jsonl", "--id", "f", "-q").returncode == 1

    text = cli.ok("failed", "f").stdout
    assert "error:       exit code 2: 1 failed, 2 passed in 0.12s" in text
    assert "error:       exit code 1: err line" in text
    assert "error:       exit code 4\n" in text
    records = {r["id"]: r["error"] for r in cli.jsonl("failed", "f", "--format", "jsonl")}
    assert records == {
        "pytest": "exit code 2: 1 failed, 2 passed in 0.12s",
        "both": "exit code 1: err line",
        "silent": "exit code 4",
    }
    # What is stored stays as the shell kind wrote it.
    stored = {r["id"]: r["error"] for r in cli.results("f")}
    assert stored["pytest"] == "exit code 2"
    assert "1 failed, 2 passed" in cli.ok("tasks", "f").stdout


# -- one spelling of each flag everywhere ------------------------------------------


def test_db_is_accepted_after_the_command(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "a", "duration": 0}])
    cli.ok("run", "tasks.jsonl", "--id", "elsewhere", "-q", "--db", "other.db")

    assert (cli.cwd / "other.db").exists()
    assert not (cli.cwd / ".taskfleet").exists()
    assert cli("status", "elsewhere").returncode == 3  # not in the default store
    assert cli.json("status", "elsewhere", "--json", "--db", "other.db")["status"] == "completed"
    # After the command it wins over the one before.
    assert cli("--db", "nowhere.db", "status", "elsewhere", "--db", "other.db").returncode == 0


@pytest.mark.parametrize("flag", ["-j", "-c", "--concurrency"])
def test_every_concurrency_spelling_works_on_run_submit_and_worker(cli: Cli, flag: str) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "a", "duration": 0}])

    cli.ok("run", "tasks.jsonl", "--id", "r", flag, "3", "-q")
    cli.ok("submit", "tasks.jsonl", "--id", "s", flag, "2")
    cli.ok("worker", "--once", flag, "2")

    assert cli.status("r")["status"] == "completed"
    assert cli.status("s")["status"] == "completed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "tasks.jsonl", "-j", "abc"], "-j needs a whole number of at least 1"),
        (["run", "tasks.jsonl", "--concurrency", "0"], "-j needs a whole number of at least 1"),
        (["worker", "-c", "x"], "-j needs a whole number of at least 1"),
        (["run", "tasks.jsonl", "--retries", "-1"], "--retries needs a whole number of at least 0"),
        (["run", "tasks.jsonl", "--timeout", "soon"], "--timeout needs a number of seconds"),
        (["serve", "--port", "70000"], "--port needs a whole number from 0 to 65535"),
        (["run", "tasks.jsonl", "--fail-fast=later"], "--fail-fast=now"),
        (["jobs", "--json", "--format", "jsonl"], "--json means --format json"),
        (["jobs", "--status", "done"], "'done' is not one of queued"),
    ],
)
def test_bad_values_say_what_they_need(cli: Cli, args: list[str], message: str) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "a", "duration": 0}])

    proc = cli(*args)

    assert proc.returncode == 2, describe(proc)
    assert message in proc.stderr
    assert not (cli.cwd / ".taskfleet").exists()  # nothing stored


def test_fail_fast_and_fail_fast_now_still_work(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", ONE_FAILING)

    assert cli("run", "tasks.jsonl", "--id", "ff", "--fail-fast", "-q").returncode == 1
    assert cli("run", "tasks.jsonl", "--id", "ffn", "--fail-fast=now", "-q").returncode == 1


def test_every_listing_takes_format_json_and_json_is_its_alias(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", ONE_FAILING)
    assert cli("run", "tasks.jsonl", "--id", "l", "-q").returncode == 1

    for command in (["jobs"], ["tasks", "l"], ["results", "l"], ["failed", "l"], ["status", "l"]):
        by_format = cli.json(*command, "--format", "json")
        assert by_format == cli.json(*command, "--json"), command
        if command[0] != "status":
            assert isinstance(by_format, list) and by_format, command
    assert [row["id"] for row in cli.jsonl("tasks", "l", "--format", "jsonl")] == ["ok", "bad"]
    assert [row["job_id"] for row in cli.jsonl("jobs", "--format", "jsonl")] == ["l"]


def test_jobs_and_tasks_status_take_several_values(cli: Cli) -> None:
    cli.write_tasks("good.jsonl", [{"id": "a", "duration": 0}])
    cli.write_tasks("bad.jsonl", ONE_FAILING)
    cli.ok("run", "good.jsonl", "--id", "good", "-q")
    assert cli("run", "bad.jsonl", "--id", "bad", "-q").returncode == 1
    cli.ok("submit", "good.jsonl", "--id", "waiting")

    def listed(*flags: str) -> list[str]:
        return [job["job_id"] for job in cli.json("jobs", *flags, "--json")]

    assert listed("--status", "completed,failed") == ["bad", "good"]
    assert listed("--status", "completed", "--status", "queued") == ["waiting", "good"]
    assert listed("--status", "failed") == ["bad"]
    assert listed("--status", "queued,failed", "--limit", "1") == ["waiting"]
    rows = cli.json("tasks", "bad", "--status", "failed", "--status", "succeeded", "--json")
    assert [row["id"] for row in rows] == ["ok", "bad"]


def test_help_lists_whole_descriptions_and_every_option_is_explained(cli: Cli) -> None:
    top = cli.ok("--help").stdout
    commands = top.split("Commands:", 1)[1]
    assert "..." not in commands
    for name, command in root_group.commands.items():
        first_line = (command.help or "").strip().splitlines()[0]
        assert " ".join(first_line.split()) in " ".join(commands.split()), name
    assert "Port to listen on" in cli.ok("serve", "--help").stdout

    for name, command in root_group.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{name} {param.opts} has no help text"
                # Defaults are shown by click's show_default, written one way.
                assert "default" not in param.help.lower(), f"{name} {param.opts}: {param.help}"
        assert "--db" in cli.ok(name, "--help").stdout, name
