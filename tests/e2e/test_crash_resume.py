"""kill -9 of `taskfleet run` at any moment: the job shows `interrupted`, `resume` finishes it,
and no task recorded `succeeded` runs again."""

from __future__ import annotations

import collections

from .helpers import Cli, describe, read_lines, wait_for

N_TASKS = 60


def _logging_tasks(n: int, seconds: float = 0.1) -> list[dict[str, object]]:
    # The log line is written at the end: a task recorded succeeded has logged once.
    return [
        {"id": f"t{i:02d}", "command": f"sleep {seconds}; echo t{i:02d} >> log.txt"}
        for i in range(n)
    ]


def test_kill_9_mid_run_then_resume_runs_each_unfinished_task(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", _logging_tasks(N_TASKS))
    log = cli.cwd / "log.txt"
    run = cli.start("run", "tasks.jsonl", "-j", "4", "--id", "crash")
    wait_for(lambda: len(read_lines(log)) >= 10, message="10 tasks to log")
    live = cli.status("crash")
    assert (live["status"], live["total"]) == ("running", N_TASKS)
    assert 0 < live["progress"] < 100

    run.kill()  # SIGKILL, and reaped

    status = cli.status("crash")
    assert status["status"] == "interrupted"
    assert [job["status"] for job in cli.json("jobs", "--json")] == ["interrupted"]
    succeeded_before = {r["id"] for r in cli.results("crash", "--status", "succeeded")}
    assert 0 < len(succeeded_before) < N_TASKS, "the kill came too late to test anything"
    assert status["succeeded"] == len(succeeded_before)

    resumed = cli.run_job("resume", "crash")

    assert resumed.code == 0, describe(resumed.proc)
    final = resumed.status
    assert (final["status"], final["succeeded"], final["total"]) == ("completed", N_TASKS, N_TASKS)
    records = list(resumed.tasks.values())
    assert [r["id"] for r in records] == [f"t{i:02d}" for i in range(N_TASKS)]
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
    resumed = cli.run_job("resume", "early")
    assert resumed.code == 0, describe(resumed.proc)
    assert resumed.status["status"] == "completed"
    assert resumed.states() == {"a": "succeeded", "b": "succeeded"}
    # `a` may have run twice (at-least-once), `b` only after it, once.
    lines = read_lines(cli.cwd / "log.txt")
    assert lines.count("b") == 1 and lines[-1] == "b", lines


def test_the_run_cut_by_a_crash_does_not_spend_a_retry(cli: Cli) -> None:
    # Fails nothing: the first run hangs (and is killed with its runner), the second succeeds.
    command = (
        "if [ -e ran.flag ]; then exit 0; fi; touch ran.flag; echo $$ > orphan.pid; exec sleep 30"
    )
    cli.write_tasks("tasks.jsonl", [{"id": "once", "command": command, "retries": 0}])
    run = cli.start("run", "tasks.jsonl", "--id", "noretry")
    wait_for(lambda: read_lines(cli.cwd / "orphan.pid"), message="the task to start")
    run.kill()

    proc = cli("resume", "noretry")

    assert proc.returncode == 0, describe(proc)
    assert cli.tasks("noretry")["once"]["status"] == "succeeded"


def test_kill_9_during_resume_too(cli: Cli) -> None:
    n = 40
    all_ids = {f"t{i:02d}" for i in range(n)}
    cli.write_tasks("tasks.jsonl", _logging_tasks(n, 0.15))
    log = cli.cwd / "log.txt"

    run = cli.start("run", "tasks.jsonl", "-j", "4", "--id", "twice", name="run")
    wait_for(lambda: len(read_lines(log)) >= 8, message="8 tasks to log")
    run.kill()
    assert cli.status("twice")["status"] == "interrupted"
    first = {r["id"] for r in cli.results("twice", "--status", "succeeded")}
    # A task recorded succeeded has exited: its log lines are all written.
    seen_first = collections.Counter(read_lines(log))

    resume = cli.start("resume", "twice", name="resume")
    logged = len(read_lines(log))
    wait_for(lambda: len(read_lines(log)) >= logged + 12, message="the resume to log 12 more")
    resume.kill()
    assert cli.status("twice")["status"] == "interrupted"
    second = {r["id"] for r in cli.results("twice", "--status", "succeeded")}
    seen_second = collections.Counter(read_lines(log))
    assert first < second < all_ids

    proc = cli("resume", "twice")

    assert proc.returncode == 0, describe(proc)
    assert cli.status("twice")["succeeded"] == n
    final = collections.Counter(read_lines(log))
    assert set(final) == all_ids
    for recorded, seen in ((first, seen_first), (second, seen_second)):
        assert all(seen[t] >= 1 for t in recorded)
        ran_again = sorted(t for t in recorded if final[t] != seen[t])
        assert ran_again == [], f"tasks recorded succeeded before a kill ran again: {ran_again}"


def test_kill_9_of_a_worker_then_another_worker_takes_the_job_up(cli: Cli) -> None:
    """As with Celery's late acknowledgement: a worker's death hands its job to the next."""
    cli.write_tasks("tasks.jsonl", _logging_tasks(N_TASKS))
    log = cli.cwd / "log.txt"
    cli.ok("submit", "tasks.jsonl", "-j", "4", "--id", "shared")
    worker = cli.start("worker", "--concurrency", "4")
    wait_for(lambda: len(read_lines(log)) >= 10, message="10 tasks to log")

    worker.kill()  # SIGKILL, and reaped

    assert cli.status("shared")["status"] == "interrupted"
    succeeded_before = {r["id"] for r in cli.results("shared", "--status", "succeeded")}
    assert 0 < len(succeeded_before) < N_TASKS, "the kill came too late to test anything"

    second = cli("worker", "--once")

    assert second.returncode == 0, describe(second)
    assert "job shared completed" in second.stderr + second.stdout
    final = cli.status("shared")
    assert (final["status"], final["succeeded"]) == ("completed", N_TASKS)
    assert all(r["attempts"] <= 2 for r in cli.tasks("shared").values())
    counts = collections.Counter(read_lines(log))
    assert set(counts) == {f"t{i:02d}" for i in range(N_TASKS)}
    assert sorted(t for t in succeeded_before if counts[t] != 1) == []


def test_a_run_cut_by_kill_9_is_left_for_its_user_not_taken_by_a_worker(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", _logging_tasks(N_TASKS))
    run = cli.start("run", "tasks.jsonl", "-j", "4", "--id", "mine")
    wait_for(lambda: len(read_lines(cli.cwd / "log.txt")) >= 5, message="5 tasks to log")
    run.kill()

    worker = cli("worker", "--once")

    assert worker.returncode == 0, describe(worker)
    assert cli.status("mine")["status"] == "interrupted"
