"""Per-attempt timeouts: the command and everything it started are killed, the attempt
fails with 'timed out', and retries are counted."""

from __future__ import annotations

from .helpers import Cli, describe, pid_alive, read_lines, read_pid, wait_for


def test_task_timeout_kills_grandchildren_and_counts_retries(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {
                "id": "hang",
                "command": "sleep 60 & echo $! >> hang.pid; wait",
                "timeout": 0.3,
                "retries": 2,
            },
            {"id": "quick", "command": "sleep 0.05; echo done", "timeout": 5},
        ],
    )

    run = cli.run_job("run", "tasks.jsonl", "--id", "to", "--retry-delay", "0")

    assert run.code == 1, describe(run.proc)
    tasks = run.tasks
    assert (tasks["hang"]["status"], tasks["hang"]["attempts"]) == ("failed", 3)
    assert "timed out" in tasks["hang"]["error"]
    assert (tasks["quick"]["status"], tasks["quick"]["attempts"]) == ("succeeded", 1)
    failed = cli.jsonl("failed", "to", "--format", "jsonl")
    assert [(r["id"], r["attempts"]) for r in failed] == [("hang", 3)]
    assert "timed out" in failed[0]["error"]
    pids = [int(line) for line in read_lines(cli.cwd / "hang.pid")]
    assert len(pids) == 3, "one grandchild per attempt"
    for pid in pids:
        wait_for(lambda pid=pid: not pid_alive(pid), timeout=10, message=f"pid {pid} to die")


def test_job_timeout_flag_applies_to_every_task(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "slow", "command": "sleep 30"},
            {"id": "own", "command": "sleep 0.4; echo own", "timeout": 5},
            {"id": "sim", "duration": 30},
            # ignores SIGTERM, and so does its child: only SIGKILL ends them
            {"id": "deaf", "command": "trap '' TERM; sleep 30 & echo $! > deaf.pid; wait; wait"},
        ],
    )

    run = cli.run_job("run", "tasks.jsonl", "--id", "jt", "--timeout", "0.2", "--retries", "0")

    assert run.code == 1, describe(run.proc)
    tasks = run.tasks
    assert (tasks["slow"]["status"], tasks["slow"]["attempts"]) == ("failed", 1)
    assert "timed out" in tasks["slow"]["error"]
    assert (tasks["sim"]["status"], tasks["sim"]["attempts"]) == ("failed", 1)
    assert "timed out" in tasks["sim"]["error"]
    # a task's own timeout wins over the job's
    assert tasks["own"]["status"] == "succeeded"
    assert (tasks["deaf"]["status"], tasks["deaf"]["attempts"]) == ("failed", 1)
    assert "timed out" in tasks["deaf"]["error"]
    deaf = read_pid(cli.cwd / "deaf.pid")
    assert deaf is not None
    wait_for(lambda: not pid_alive(deaf), timeout=10, message="the deaf grandchild to die")
    assert run.status["elapsed_seconds"] < 20
