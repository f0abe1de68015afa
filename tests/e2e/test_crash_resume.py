"""kill -9 of `taskfleet run` at any moment: the job shows `interrupted`, `resume` finishes it,
and no task recorded `succeeded` runs again."""

from __future__ import annotations

import collections

from .helpers import Cli, describe, read_lines, wait_for

N_TASKS = 48


def _logging_tasks(n: int) -> list[dict[str, object]]:
    # The log line is written at the end: a task recorded succeeded has logged once.
    return [
        {"id": f"t{i:02d}", "command": f"sleep 0.1; echo t{i:02d} >> log.txt"} for i in range(n)
    ]


def test_kill_9_mid_run_then_resume_runs_each_unfinished_task(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", _logging_tasks(N_TASKS))
    log = cli.cwd / "log.txt"
    run = cli.start("run", "tasks.jsonl", "-j", "4", "--id", "crash")
    wait_for(lambda: len(read_lines(log)) >= 10, message="10 tasks to log")

    run.kill()  # SIGKILL, and reaped

    status = cli.status("crash")
    assert status["status"] == "interrupted"
    succeeded_before = {r["id"] for r in cli.results("crash", "--status", "succeeded")}
    assert 0 < len(succeeded_before) < N_TASKS, "the kill came too late to test anything"
    assert status["succeeded"] == len(succeeded_before)

    proc = cli("resume", "crash")

    assert proc.returncode == 0, describe(proc)
    final = cli.status("crash")
    assert (final["status"], final["succeeded"], final["total"]) == ("completed", N_TASKS, N_TASKS)
    records = cli.results("crash")
    assert [r["status"] for r in records] == ["succeeded"] * N_TASKS
    # A task running at the crash runs again without spending a retry.
    assert all(r["attempts"] <= 2 for r in records), records
    counts = collections.Counter(read_lines(log))
    assert set(counts) == {f"t{i:02d}" for i in range(N_TASKS)}
    ran_twice = sorted(t for t in succeeded_before if counts[t] != 1)
    assert ran_twice == [], f"tasks recorded succeeded before the kill ran again: {ran_twice}"


def test_kill_9_before_any_task_ended_then_resume(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "a", "command": "touch a.started; sleep 0.3; echo a >> log.txt"},
            {"id": "b", "command": "echo b >> log.txt", "depends_on": ["a"]},
        ],
    )
    run = cli.start("run", "tasks.jsonl", "-j", "2", "--id", "early")
    wait_for(lambda: (cli.cwd / "a.started").exists(), message="task a to start")

    run.kill()

    assert cli.status("early")["status"] == "interrupted"
    proc = cli("resume", "early", "--json")
    assert proc.returncode == 0, describe(proc)
    assert cli.status("early")["status"] == "completed"
    tasks = cli.tasks("early")
    assert {t: row["status"] for t, row in tasks.items()} == {"a": "succeeded", "b": "succeeded"}
    # `a` may have run twice (at-least-once), `b` only after it, once.
    lines = read_lines(cli.cwd / "log.txt")
    assert lines.count("b") == 1 and lines[-1] == "b", lines


def test_kill_9_during_resume_too(cli: Cli) -> None:
    n = 40
    cli.write_tasks("tasks.jsonl", _logging_tasks(n))
    log = cli.cwd / "log.txt"
    succeeded_before: set[str] = set()

    run = cli.start("run", "tasks.jsonl", "-j", "4", "--id", "twice", name="run")
    wait_for(lambda: len(read_lines(log)) >= 8, message="8 tasks to log")
    run.kill()
    assert cli.status("twice")["status"] == "interrupted"
    first = {r["id"] for r in cli.results("twice", "--status", "succeeded")}
    succeeded_before |= first

    resume = cli.start("resume", "twice", name="resume")
    wait_for(
        lambda: cli.status("twice")["succeeded"] >= len(first) + 8,
        message="the resume to record 8 more successes",
    )
    resume.kill()
    assert cli.status("twice")["status"] == "interrupted"
    second = {r["id"] for r in cli.results("twice", "--status", "succeeded")}
    assert first < second < {f"t{i:02d}" for i in range(n)}
    succeeded_before |= second

    proc = cli("resume", "twice")

    assert proc.returncode == 0, describe(proc)
    assert cli.status("twice")["succeeded"] == n
    counts = collections.Counter(read_lines(log))
    assert set(counts) == {f"t{i:02d}" for i in range(n)}
    ran_again = sorted(t for t in succeeded_before if counts[t] != 1)
    assert ran_again == [], f"tasks recorded succeeded before a kill ran again: {ran_again}"
