"""Retries, selective retry, fail-fast, dependencies, central validation, priorities."""

from __future__ import annotations

import collections
import json
import shlex
import sys

from .helpers import Cli, describe, read_lines


def test_retries_until_success_and_until_exhausted(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "flaky", "duration": 0, "fail_times": 2},  # job default: 2 retries
            {"id": "stubborn", "duration": 0, "fail_times": 5, "retries": 1},
            {"id": "once", "duration": 0, "fail_times": 1, "retries": 0},
        ],
    )

    run = cli.run_job("run", "tasks.jsonl", "--id", "rt", "--retry-delay", "0")

    assert run.code == 1, describe(run.proc)
    assert run.status["status"] == "failed"
    tasks = run.tasks
    assert (tasks["flaky"]["status"], tasks["flaky"]["attempts"]) == ("succeeded", 3)
    assert tasks["flaky"]["error"] is None
    assert (tasks["stubborn"]["status"], tasks["stubborn"]["attempts"]) == ("failed", 2)
    assert (tasks["once"]["status"], tasks["once"]["attempts"]) == ("failed", 1)


def test_retry_reruns_only_failed_skipped_and_cancelled(cli: Cli) -> None:
    # `flip` fails the first time it runs and succeeds after.
    flip = "echo flip >> log.txt; if [ -e flip.flag ]; then exit 0; fi; touch flip.flag; exit 1"
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "ok", "command": "echo ok >> log.txt"},
            {"id": "flip", "command": flip, "retries": 0},
            {"id": "child", "command": "echo child >> log.txt", "depends_on": ["flip"]},
            {"id": "grandchild", "command": "echo grandchild >> log.txt", "depends_on": "child"},
            {"id": "sim", "duration": 0, "fail_times": 3, "retries": 1},
        ],
    )
    first = cli.run_job("run", "tasks.jsonl", "--id", "sel", "--retry-delay", "0", "-j", "1")
    assert first.code == 1, describe(first.proc)
    assert first.states() == {
        "ok": "succeeded",
        "flip": "failed",
        "child": "skipped",
        "grandchild": "skipped",
        "sim": "failed",
    }
    assert first.tasks["sim"]["attempts"] == 2

    again = cli.run_job("retry", "sel")

    # fresh retries: sim's attempt 3 fails (fail_times 3), its retry (attempt 4) succeeds
    assert again.code == 0, describe(again.proc)
    assert set(again.states().values()) == {"succeeded"}
    assert again.tasks["sim"]["attempts"] == 4
    assert again.status["status"] == "completed"
    assert collections.Counter(read_lines(cli.cwd / "log.txt")) == {
        "ok": 1,
        "flip": 2,
        "child": 1,
        "grandchild": 1,
    }


def test_retry_of_a_completed_job_runs_nothing(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "a", "command": "echo a >> log.txt"}])
    cli.ok("run", "tasks.jsonl", "--id", "done", "--quiet")

    proc = cli("retry", "done")

    assert proc.returncode == 0, describe(proc)
    assert read_lines(cli.cwd / "log.txt") == ["a"]


def test_fail_fast_lets_running_tasks_finish_and_starts_nothing_new(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "slow", "command": "sleep 0.6; touch slow.done; echo slow >> slow.log"},
            {"id": "bad", "command": "sleep 0.1; exit 3", "retries": 0},
            {"id": "later1", "command": "touch later1.started"},
            {"id": "later2", "command": "touch later2.started"},
        ],
    )

    run = cli.run_job("run", "tasks.jsonl", "-j", "2", "--fail-fast", "--id", "ff")

    assert run.code == 1, describe(run.proc)
    assert run.status["status"] == "failed"
    tasks = run.tasks
    assert tasks["bad"]["status"] == "failed"
    assert tasks["slow"]["status"] == "succeeded"
    assert (cli.cwd / "slow.done").exists()
    assert not (cli.cwd / "later1.started").exists()
    assert not (cli.cwd / "later2.started").exists()
    assert tasks["later1"]["status"] not in ("succeeded", "running")
    assert tasks["later2"]["status"] not in ("succeeded", "running")

    # `retry` runs what was cancelled or failed, not what succeeded
    again = cli.run_job("retry", "ff")

    assert again.code == 1, describe(again.proc)
    tasks = again.tasks
    assert tasks["later1"]["status"] == tasks["later2"]["status"] == "succeeded"
    assert tasks["bad"]["status"] == "failed"
    assert read_lines(cli.cwd / "slow.log") == ["slow"]


def test_fail_fast_now_kills_running_tasks(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "slow", "command": "touch slow.started; sleep 30; touch slow.done"},
            {"id": "bad", "command": "sleep 0.2; exit 3", "retries": 0},
            {"id": "later", "command": "touch later.started"},
        ],
    )

    run = cli.run_job("run", "tasks.jsonl", "-j", "2", "--fail-fast=now", "--id", "ffn")

    assert run.code == 1, describe(run.proc)
    assert run.status["status"] == "failed"
    tasks = run.tasks
    assert tasks["bad"]["status"] == "failed"
    assert tasks["slow"]["status"] == "cancelled"
    assert (cli.cwd / "slow.started").exists()
    assert not (cli.cwd / "slow.done").exists()
    assert not (cli.cwd / "later.started").exists()
    assert run.status["elapsed_seconds"] < 20


def test_without_fail_fast_errors_are_collected(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [{"id": "bad", "command": "exit 1", "retries": 0}]
        + [{"id": f"ok{i}", "command": f"echo ok{i} >> log.txt"} for i in range(4)],
    )

    proc = cli("run", "tasks.jsonl", "-j", "1", "--id", "collect")

    assert proc.returncode == 1, describe(proc)
    assert sorted(read_lines(cli.cwd / "log.txt")) == ["ok0", "ok1", "ok2", "ok3"]


def test_dependants_of_a_failed_task_are_skipped(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "build", "command": "echo build >> log.txt"},
            {"id": "test", "command": "echo test >> log.txt", "depends_on": ["build"]},
            {"id": "lint", "command": "exit 2", "retries": 0},
            {"id": "deploy", "command": "echo deploy >> log.txt", "depends_on": ["test", "lint"]},
            {"id": "notify", "command": "echo notify >> log.txt", "depends_on": ["deploy"]},
        ],
    )

    run = cli.run_job("run", "tasks.jsonl", "-j", "4", "--id", "deps")

    assert run.code == 1, describe(run.proc)
    tasks = run.tasks
    assert run.states() == {
        "build": "succeeded",
        "test": "succeeded",
        "lint": "failed",
        "deploy": "skipped",
        "notify": "skipped",
    }
    assert tasks["deploy"]["attempts"] == tasks["notify"]["attempts"] == 0
    # dependencies ran before their dependants
    assert read_lines(cli.cwd / "log.txt") == ["build", "test"]
    status = run.status
    assert (status["status"], status["skipped"], status["failed"]) == ("failed", 2, 1)


def test_dependencies_order_execution(cli: Cli) -> None:
    # Listed last-first and with the highest priority on the last step: order still holds.
    cli.write_tasks(
        "tasks.jsonl",
        [
            {
                "id": "c",
                "command": "echo c >> log.txt",
                "depends_on": ["b"],
                "priority": "critical",
            },
            {"id": "b", "command": "sleep 0.1; echo b >> log.txt", "depends_on": ["a"]},
            {"id": "a", "command": "sleep 0.2; echo a >> log.txt", "priority": "low"},
        ],
    )

    cli.ok("run", "tasks.jsonl", "-j", "3", "--id", "order", "--quiet")

    assert read_lines(cli.cwd / "log.txt") == ["a", "b", "c"]


VALIDATOR = """\
import json, os, sys
job = os.environ["TASKFLEET_JOB"]
records = [json.loads(line) for line in open(os.environ["TASKFLEET_RESULTS"])]
with open("validations.jsonl", "a") as out:
    out.write(json.dumps({{"job": job, "records": records}}) + "\\n")
rounds = sum(1 for _ in open("validations.jsonl"))
reject = {reject}
if rounds <= {reject_rounds}:
    print("not-a-task-id")
    for task_id in reject:
        print(task_id)
    sys.exit(1)
"""


def _validator(cli: Cli, reject: list[str], reject_rounds: int) -> str:
    script = cli.cwd / "validate.py"
    script.write_text(VALIDATOR.format(reject=repr(reject), reject_rounds=reject_rounds))
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def _validations(cli: Cli) -> list[dict[str, object]]:
    return [json.loads(line) for line in read_lines(cli.cwd / "validations.jsonl")]


def test_validate_reruns_rejected_tasks_then_accepts(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [{"id": name, "command": f"echo {name} >> log.txt"} for name in ("v1", "v2", "v3")],
    )
    validate = _validator(cli, ["v2"], reject_rounds=1)

    run = cli.run_job("run", "tasks.jsonl", "--id", "val", "--validate", validate)

    assert run.code == 0, describe(run.proc)
    assert run.status["status"] == "completed"
    runs = collections.Counter(read_lines(cli.cwd / "log.txt"))
    assert runs == {"v1": 1, "v2": 2, "v3": 1}
    validations = _validations(cli)
    assert len(validations) == 2
    first = validations[0]
    assert first["job"] == "val"
    records = first["records"]
    assert isinstance(records, list)
    assert [r["id"] for r in records] == ["v1", "v2", "v3"]
    assert {r["status"] for r in records} == {"succeeded"}
    assert run.tasks["v2"]["status"] == "succeeded"


def test_validate_gives_up_after_validate_rounds(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [{"id": name, "command": f"echo {name} >> log.txt"} for name in ("v1", "v2")],
    )
    validate = _validator(cli, ["v2"], reject_rounds=99)

    run = cli.run_job(
        "run", "tasks.jsonl", "--id", "val2", "--validate", validate, "--validate-rounds", "2"
    )

    assert run.code == 1, describe(run.proc)
    assert run.status["status"] == "failed"
    # first run + 2 validation rounds
    assert collections.Counter(read_lines(cli.cwd / "log.txt")) == {"v1": 1, "v2": 3}
    assert len(_validations(cli)) == 3
    tasks = run.tasks
    assert tasks["v1"]["status"] == "succeeded"
    assert tasks["v2"]["status"] == "failed"
    assert tasks["v2"]["error"] == "validation failed"
    failed = cli.jsonl("failed", "val2", "--format", "jsonl")
    assert [(r["id"], r["error"]) for r in failed] == [("v2", "validation failed")]


def test_validate_rounds_zero_fails_rejected_tasks_without_rerun(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "only", "command": "echo only >> log.txt"}])
    validate = _validator(cli, ["only"], reject_rounds=99)

    run = cli.run_job(
        "run", "tasks.jsonl", "--id", "val0", "--validate", validate, "--validate-rounds", "0"
    )

    assert run.code == 1, describe(run.proc)
    assert read_lines(cli.cwd / "log.txt") == ["only"]
    assert run.tasks["only"]["error"] == "validation failed"


def test_priorities_decide_start_order(cli: Cli) -> None:
    names = [("l", "low"), ("m1", None), ("h", "high"), ("c", "critical"), ("m2", "medium")]
    tasks = []
    for task_id, priority in names:
        task: dict[str, object] = {"id": task_id, "command": f"echo {task_id} >> log.txt"}
        if priority:
            task["priority"] = priority
        tasks.append(task)
    tasks += [
        {"id": "i1", "command": "echo i1 >> ilog.txt", "priority": 1},
        {"id": "i10", "command": "echo i10 >> ilog.txt", "priority": 10},
        {"id": "i-5", "command": "echo i-5 >> ilog.txt", "priority": -5},
        {"id": "i10b", "command": "echo i10b >> ilog.txt", "priority": 10},
    ]
    cli.write_tasks("tasks.jsonl", tasks)

    cli.ok("run", "tasks.jsonl", "-j", "1", "--id", "prio", "--quiet")

    # ties run in file order
    assert read_lines(cli.cwd / "log.txt") == ["c", "h", "m1", "m2", "l"]
    assert read_lines(cli.cwd / "ilog.txt") == ["i10", "i10b", "i1", "i-5"]


def test_fail_fast_ignores_failures_that_a_retry_fixes(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "flaky", "duration": 0, "fail_times": 1, "retries": 1},
            {"id": "after", "command": "sleep 0.2; echo after >> log.txt"},
        ],
    )

    proc = cli("run", "tasks.jsonl", "-j", "1", "--fail-fast", "--retry-delay", "0", "--id", "f")

    assert proc.returncode == 0, describe(proc)
    assert read_lines(cli.cwd / "log.txt") == ["after"]


def test_retries_from_file_environment_and_flag_precedence(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "f", "duration": 0, "fail_times": 3}])
    (cli.cwd / "taskfleet.toml").write_text("retries = 3\nretry_delay = 0\n")
    env = {"TASKFLEET_RETRIES": "1"}

    from_file = cli.run_job("run", "tasks.jsonl", "--id", "file")
    from_env = cli.run_job("run", "tasks.jsonl", "--id", "env", env=env)
    from_flag = cli.run_job("run", "tasks.jsonl", "--id", "flag", "--retries", "0", env=env)

    assert from_file.code == 0, describe(from_file.proc)
    assert from_file.tasks["f"]["attempts"] == 4
    assert from_env.code == 1, describe(from_env.proc)
    assert from_env.tasks["f"]["attempts"] == 2
    assert from_flag.code == 1, describe(from_flag.proc)
    assert from_flag.tasks["f"]["attempts"] == 1
