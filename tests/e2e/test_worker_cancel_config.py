"""submit + worker, cancel, config and its sources, choosing the store, unknown jobs."""

from __future__ import annotations

import pytest

from .helpers import Cli, describe, pid_alive, read_pid, wait_for


def test_submit_then_worker_once_runs_the_job(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "a", "duration": 0.05, "output": "A"},
            {"id": "b", "command": "echo b > b.out", "depends_on": ["a"]},
        ],
    )

    submitted = cli("submit", "tasks.jsonl")

    assert submitted.returncode == 0, describe(submitted)
    job_id = submitted.stdout.strip()
    assert job_id and "\n" not in job_id
    status = cli.status(job_id)
    assert (status["status"], status["total"], status["queued"] + status["pending"]) == (
        "queued",
        2,
        2,
    )
    assert not (cli.cwd / "b.out").exists(), "submit must not run anything"

    worker = cli("worker", "--once")

    assert worker.returncode == 0, describe(worker)
    status = cli.status(job_id)
    assert (status["status"], status["succeeded"]) == ("completed", 2)
    assert (cli.cwd / "b.out").read_text() == "b\n"
    first, second = cli.results(job_id)
    assert (first["id"], first["result"]) == ("a", "A")
    assert (second["id"], second["result"]["exit_code"]) == ("b", 0)


def test_submit_with_id_and_worker_runs_jobs_oldest_first(cli: Cli) -> None:
    cli.write_tasks("one.jsonl", [{"id": "x", "command": "echo one >> order.txt"}])
    cli.write_tasks("two.jsonl", [{"id": "x", "command": "echo two >> order.txt"}])
    assert cli.ok("submit", "one.jsonl", "--id", "job-one").stdout.strip() == "job-one"
    assert cli.ok("submit", "two.jsonl", "--id", "job-two").stdout.strip() == "job-two"

    cli.ok("worker", "--once")

    assert (cli.cwd / "order.txt").read_text() == "one\ntwo\n"
    assert cli.status("job-one")["status"] == cli.status("job-two")["status"] == "completed"


def test_cancel_a_queued_job(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl", [{"id": "a", "command": "touch ran"}, {"id": "b", "duration": 0}]
    )
    cli.ok("submit", "tasks.jsonl", "--id", "q")

    cli.ok("cancel", "q")

    status = cli.status("q")
    assert (status["status"], status["cancelled"]) == ("cancelled", 2)
    cli.ok("worker", "--once")
    assert not (cli.cwd / "ran").exists()
    assert cli.status("q")["status"] == "cancelled"


def test_cancel_a_running_job_from_another_process(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": f"l{i}", "command": f"sleep 30 & echo $! > l{i}.pid; wait; touch l{i}.done"}
            for i in range(3)
        ],
    )
    run = cli.start("run", "tasks.jsonl", "-j", "2", "--id", "long")
    pids = wait_for(
        lambda: (
            (a := read_pid(cli.cwd / "l0.pid")) and (b := read_pid(cli.cwd / "l1.pid")) and (a, b)
        ),
        message="two tasks to start",
    )

    cancel = cli("cancel", "long")

    assert cancel.returncode == 0, describe(cancel)
    assert run.wait(timeout=30) == 1, run.stderr
    status = cli.status("long")
    assert status["status"] == "cancelled"
    assert status["cancelled"] == 3
    assert status["succeeded"] == 0
    for pid in pids:
        wait_for(lambda pid=pid: not pid_alive(pid), timeout=10, message=f"pid {pid} to die")
    assert not (cli.cwd / "l2.pid").exists()
    assert not any((cli.cwd / f"l{i}.done").exists() for i in range(3))


def _config_rows(cli: Cli, **kwargs: object) -> dict[str, tuple[str, str]]:
    """`taskfleet config` as {key: (value, source)}."""
    rows = {}
    for line in cli.ok("config", **kwargs).stdout.splitlines():  # type: ignore[arg-type]
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("db", "concurrency", "retries", "timeout"):
            rows[parts[0]] = (parts[1], " ".join(parts[2:]))
    return rows


def test_config_shows_values_and_their_sources(cli: Cli) -> None:
    rows = _config_rows(cli)
    assert rows["concurrency"][1] == "default"
    assert rows["retries"] == ("2", "default")
    assert rows["db"][1] == "default"
    assert ".taskfleet" in rows["db"][0]

    (cli.cwd / "taskfleet.toml").write_text("concurrency = 3\nretries = 5\n")
    rows = _config_rows(cli)
    assert rows["concurrency"] == ("3", "taskfleet.toml")
    assert rows["retries"] == ("5", "taskfleet.toml")

    rows = _config_rows(cli, env={"TASKFLEET_CONCURRENCY": "7", "TASKFLEET_DB": "env.db"})
    assert rows["concurrency"][0] == "7"
    assert "TASKFLEET_CONCURRENCY" in rows["concurrency"][1] or rows["concurrency"][1] == "env"
    assert rows["retries"] == ("5", "taskfleet.toml")
    assert rows["db"][0].endswith("env.db")
    assert "env" in rows["db"][1]

    proc = cli("--db", "flag.db", "config", env={"TASKFLEET_DB": "env.db"})
    assert proc.returncode == 0, describe(proc)
    db_line = next(line for line in proc.stdout.splitlines() if line.startswith("db"))
    assert "flag.db" in db_line and "flag" in db_line.split()[-1]


def test_config_from_pyproject_tool_table(cli: Cli) -> None:
    (cli.cwd / "pyproject.toml").write_text("[tool.taskfleet]\nconcurrency = 4\n")

    assert _config_rows(cli)["concurrency"] == ("4", "pyproject.toml")


def test_bad_config_is_bad_usage(cli: Cli) -> None:
    (cli.cwd / "taskfleet.toml").write_text("concurrency = 'many'\n")
    cli.write_tasks("tasks.jsonl", [{"id": "a", "command": "touch ran"}])

    proc = cli("run", "tasks.jsonl")

    assert proc.returncode == 2, describe(proc)
    assert "concurrency" in proc.stderr
    assert not (cli.cwd / "ran").exists()


def test_taskfleet_db_env_and_db_flag_choose_the_store(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "a", "duration": 0}])

    cli.ok("run", "tasks.jsonl", "--id", "in-env", "--quiet", env={"TASKFLEET_DB": "env.db"})
    cli.ok("--db", "flag.db", "run", "tasks.jsonl", "--id", "in-flag", "--quiet")

    assert (cli.cwd / "env.db").is_file()
    assert (cli.cwd / "flag.db").is_file()
    assert cli.status("in-env", env={"TASKFLEET_DB": "env.db"})["status"] == "completed"
    assert cli.json("--db", "flag.db", "status", "in-flag", "--json")["status"] == "completed"
    # the default store under the current directory holds neither
    assert cli("jobs", "--json").stdout.strip() == "[]"
    # the flag wins over the environment
    both = cli("--db", "flag.db", "status", "in-flag", env={"TASKFLEET_DB": "env.db"})
    assert both.returncode == 0, describe(both)


@pytest.mark.parametrize(
    "args",
    [
        ["status", "nope"],
        ["tasks", "nope"],
        ["results", "nope"],
        ["failed", "nope"],
        ["resume", "nope"],
        ["retry", "nope"],
        ["cancel", "nope"],
    ],
    ids=lambda args: "-".join(args),
)
def test_unknown_job_exits_3(cli: Cli, args: list[str]) -> None:
    proc = cli(*args)

    assert proc.returncode == 3, describe(proc)
    assert "nope" in proc.stderr
