"""A JOB as people type it: ``last`` (the newest job) or a unique prefix of an id, everywhere."""

from __future__ import annotations

import json

import pytest

from .helpers import Cli, describe

ONE_FAILING = [
    {"id": "ok", "duration": 0},
    {"id": "bad", "command": "echo broken >&2; exit 3", "retries": 0},
]


def submit(cli: Cli, job_id: str) -> None:
    cli.ok("submit", "tasks.jsonl", "--id", job_id)


def shown_job(cli: Cli, typed: str) -> str:
    """The id of the job ``status TYPED`` shows."""
    return str(cli.status(typed)["job_id"])


def test_last_and_unique_prefixes_name_a_job_in_status(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "t", "duration": 0}])
    for job_id in ("build", "build-2", "deploy-7f3a"):
        submit(cli, job_id)

    assert shown_job(cli, "last") == "deploy-7f3a"  # the newest job
    assert shown_job(cli, "dep") == "deploy-7f3a"
    assert shown_job(cli, "build-") == "build-2"
    # An exact id wins over being a prefix of a longer one.
    assert shown_job(cli, "build") == "build"
    # The human output resolves the same way.
    assert cli.ok("status", "dep").stdout.startswith("job deploy-7f3a")


def test_an_ambiguous_prefix_is_bad_usage_naming_at_most_five_candidates(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "t", "duration": 0}])
    for n in range(7):
        submit(cli, f"nightly-{n}")
    submit(cli, "other")

    proc = cli("status", "nightly-")

    assert proc.returncode == 2, describe(proc)
    assert "ambiguous" in proc.stderr
    named = [f"nightly-{n}" for n in range(7) if f"nightly-{n}" in proc.stderr]
    assert named == [f"nightly-{n}" for n in range(5)]
    assert "other" not in proc.stderr
    assert shown_job(cli, "nightly-6") == "nightly-6"


def test_no_match_is_not_found(cli: Cli) -> None:
    assert cli("status", "last").returncode == 3  # no job yet
    cli.write_tasks("tasks.jsonl", [{"id": "t", "duration": 0}])
    submit(cli, "alpha")

    for command in ("status", "tasks", "results", "failed", "cancel", "resume", "retry"):
        proc = cli(command, "beta")
        assert proc.returncode == 3, describe(proc)
        assert "beta" in proc.stderr


def test_wildcards_in_a_prefix_are_plain_characters(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "t", "duration": 0}])
    for job_id in ("a_b", "axb", "a%c", "ayc"):
        submit(cli, job_id)

    assert shown_job(cli, "a_") == "a_b"
    assert shown_job(cli, "a%") == "a%c"
    assert cli("status", "a").returncode == 2


def test_every_command_that_takes_a_job_resolves_last_and_prefixes(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", ONE_FAILING)
    assert cli("run", "tasks.jsonl", "--id", "older-job", "-q").returncode == 1
    assert cli("run", "tasks.jsonl", "--id", "nightly-0042", "-q").returncode == 1

    tasks = cli.json("tasks", "nightly", "--json")
    assert {row["id"]: row["status"] for row in tasks} == {"ok": "succeeded", "bad": "failed"}
    assert [r["id"] for r in cli.results("last")] == ["ok", "bad"]
    failed = cli.jsonl("failed", "night", "--format", "jsonl")
    assert [record["id"] for record in failed] == ["bad"]
    assert "nightly-0042" in cli.ok("status", "last").stdout

    retry = cli("retry", "nightly", "--json")
    assert retry.returncode == 1, describe(retry)  # `bad` fails again
    assert json.loads(retry.stdout)["job_id"] == "nightly-0042"
    resume = cli("resume", "old", "--json")
    assert resume.returncode == 1, describe(resume)  # ended failed: nothing to resume
    assert json.loads(resume.stdout)["job_id"] == "older-job"

    cli.write_tasks("slow.jsonl", [{"id": "wait", "duration": 30}])
    cli.ok("submit", "slow.jsonl", "--id", "queued-one")
    cancelled = cli.ok("cancel", "last")
    assert "queued-one cancelled" in cancelled.stdout
    assert cli.status("queued-one")["status"] == "cancelled"


@pytest.mark.parametrize("typed", ["last", "job-"])
def test_generated_ids_resolve_too(cli: Cli, typed: str) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "t", "duration": 0}])
    job_id = cli.ok("submit", "tasks.jsonl").stdout.strip()

    assert job_id.startswith("job-")
    assert shown_job(cli, typed) == job_id
    assert shown_job(cli, job_id[:-3]) == job_id
