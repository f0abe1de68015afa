"""Ctrl-C: once stops starting tasks and lets running ones finish; twice kills them
with their process groups. Either way: exit 130, job `interrupted`, resumable."""

from __future__ import annotations

import collections
import contextlib
import signal
import time

from .helpers import Cli, describe, pid_alive, read_lines, read_pid, wait_for


def _started(cli: Cli, *names: str) -> bool:
    return all((cli.cwd / f"{name}.started").exists() for name in names)


def test_one_sigint_lets_running_tasks_finish_then_resume(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": name, "command": f"touch {name}.started; sleep 1; echo {name} >> log.txt"}
            for name in ("s1", "s2", "s3", "s4")
        ],
    )
    run = cli.start("run", "tasks.jsonl", "-j", "2", "--id", "sig")
    wait_for(lambda: _started(cli, "s1", "s2"), message="two tasks to start")

    run.proc.send_signal(signal.SIGINT)
    code = run.wait()

    assert code == 130, run.stderr
    # the two running tasks finished; nothing new started
    assert sorted(read_lines(cli.cwd / "log.txt")) == ["s1", "s2"]
    assert not (cli.cwd / "s3.started").exists()
    assert not (cli.cwd / "s4.started").exists()
    status = cli.status("sig")
    assert (status["status"], status["succeeded"]) == ("interrupted", 2)
    tasks = cli.tasks("sig")
    assert tasks["s1"]["status"] == tasks["s2"]["status"] == "succeeded"

    proc = cli("resume", "sig")

    assert proc.returncode == 0, describe(proc)
    assert cli.status("sig")["status"] == "completed"
    assert collections.Counter(read_lines(cli.cwd / "log.txt")) == {
        "s1": 1,
        "s2": 1,
        "s3": 1,
        "s4": 1,
    }


def test_sigterm_behaves_like_one_sigint(cli: Cli) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "a", "command": "touch a.started; sleep 0.8; touch a.done"},
            {"id": "b", "command": "touch b.started"},
        ],
    )
    run = cli.start("run", "tasks.jsonl", "-j", "1", "--id", "term")
    wait_for(lambda: _started(cli, "a"), message="task a to start")

    run.proc.send_signal(signal.SIGTERM)

    assert run.wait() == 130, run.stderr
    assert (cli.cwd / "a.done").exists()
    assert not (cli.cwd / "b.started").exists()
    assert cli.status("term")["status"] == "interrupted"


def test_two_sigints_kill_running_tasks_and_their_children(cli: Cli) -> None:
    # One piece: one live process taken through start, two Ctrl-Cs and a resume, in order.
    cli.write_tasks(
        "tasks.jsonl",
        [
            # fails nothing: a second run (after the kill) exits 0 at once
            {
                "id": "g1",
                "command": "[ -e g1.pid ] && exit 0; sleep 60 & echo $! > g1.pid; wait",
                "retries": 0,
            },
            {
                "id": "g2",
                "command": "[ -e g2.pid ] && exit 0; sh -c 'sleep 60 & echo $! > g2.pid; wait'",
                "retries": 0,
            },
            {"id": "later", "command": "touch later.started"},
        ],
    )
    run = cli.start("run", "tasks.jsonl", "-j", "2", "--id", "kill")
    pids = wait_for(
        lambda: (
            (p1 := read_pid(cli.cwd / "g1.pid"))
            and (p2 := read_pid(cli.cwd / "g2.pid"))
            and (p1, p2)
        ),
        message="both grandchildren to start",
    )

    run.proc.send_signal(signal.SIGINT)
    # The first Ctrl-C is acknowledged on stderr; the exact words are not the contract.
    with contextlib.suppress(AssertionError):
        wait_for(lambda: run.stderr.strip(), timeout=5, message="a word on stderr")
    assert run.proc.poll() is None, "a single Ctrl-C must wait for running tasks"
    second_at = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    code = run.wait(timeout=15)

    assert code == 130, run.stderr
    assert time.monotonic() - second_at < 10
    for pid in pids:
        wait_for(lambda pid=pid: not pid_alive(pid), timeout=10, message=f"pid {pid} to die")
    assert not (cli.cwd / "later.started").exists()
    assert cli.status("kill")["status"] == "interrupted"
    # killed tasks are not failures: they run again on resume
    tasks = cli.tasks("kill")
    assert {tasks[t]["status"] for t in ("g1", "g2", "later")} <= {"queued", "pending"}

    # killed tasks run again on resume, and the kill did not spend their (zero) retries
    proc = cli("resume", "kill")
    assert proc.returncode == 0, describe(proc)
    assert {row["status"] for row in cli.tasks("kill").values()} == {"succeeded"}
