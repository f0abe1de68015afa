"""Counts and times that must be right: skipped tasks counted apart from failed ones
(progress bar, progress line, ``jobs``), and elapsed time and rate as the sum of
the runs' spans around Ctrl-C, ``resume`` and ``retry``."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

from .helpers import Cli, describe, wait_for

# bad fails for good, dep is skipped for it; slow keeps the run going past the
# first plain progress line (one every 2 s).
SKIP_TASKS = [
    {"id": "bad", "command": "exit 1"},
    {"id": "dep", "command": "true", "depends_on": ["bad"]},
    {"id": "slow", "command": "sleep 2.4"},
]
# An idle gap longer than any run of these tests: it must not count as running time.
IDLE_GAP_S = 1.5


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_the_plain_progress_line_and_jobs_count_skipped_apart(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", SKIP_TASKS)

    proc = cli("run", "tasks.jsonl", "-j", "4", "--retries", "0", "--id", "sk")

    assert proc.returncode == 1, describe(proc)
    progress = [line for line in proc.stderr.splitlines() if line.startswith("[taskfleet] sk:")]
    assert progress, proc.stderr
    assert "1 failed, 1 skipped, 1 running" in progress[-1]
    table = cli.ok("jobs").stdout.splitlines()
    header, row = table[0].split(), table[1].split()
    assert header[:6] == ["JOB", "STATUS", "DONE", "OK", "FAILED", "SKIPPED"]
    assert row[:6] == ["sk", "failed", "3/3", "1", "1", "1"]


def test_the_progress_bar_counts_skipped_apart(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", SKIP_TASKS[:2])
    # A terminal on stderr: the rich progress bar, wide enough for every column.
    leader, follower = pty.openpty()
    env = {**cli.env, "COLUMNS": "200", "TERM": "xterm"}
    with subprocess.Popen(
        [sys.executable, "-m", "taskfleet", "run", "tasks.jsonl", "--retries", "0"],
        cwd=cli.cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    ) as run:
        os.close(follower)
        screen = b""
        while chunk := _read(leader):
            screen += chunk
        assert run.wait(timeout=60) == 1
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    assert "✗ 1" in text and "1 skipped" in text, text


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the other end closed
        return b""


def test_elapsed_counts_a_task_that_ran_on_after_ctrl_c_and_not_the_gap_before_resume(
    cli: Cli,
) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "t1", "command": "touch t1.started; sleep 1"},
            {"id": "t2", "command": "sleep 0.2"},
        ],
    )
    run = cli.start("run", "tasks.jsonl", "-j", "1", "--id", "gap")
    wait_for(lambda: (cli.cwd / "t1.started").exists(), message="t1 to start")
    run.proc.send_signal(signal.SIGINT)
    assert run.wait() == 130, run.stderr
    assert re.search(r"1 succeeded, .* of 2 in (0\.9|1\.\d)s", run.stdout), run.stdout
    stopped = cli.status("gap")
    assert stopped["status"] == "interrupted"
    assert 0.9 <= stopped["elapsed_seconds"] < 1.5 + 0.5  # t1 ran on for its whole second

    time.sleep(IDLE_GAP_S)  # the idle gap under test, not a synchronisation
    proc = cli("resume", "gap")

    assert proc.returncode == 0, describe(proc)
    status = cli.status("gap")
    wall_s = _seconds(status["finished_at"]) - _seconds(status["started_at"])
    assert wall_s >= 1.0 + IDLE_GAP_S
    assert stopped["elapsed_seconds"] + 0.2 <= status["elapsed_seconds"] <= wall_s - IDLE_GAP_S
    # Both are rounded to 3 decimals from the unrounded time: compare to the rounding.
    assert status["items_per_second"] == pytest.approx(2 / status["elapsed_seconds"], abs=2e-3)


def test_retry_after_an_idle_gap_reports_the_time_spent_running(cli: Cli) -> None:
    cli.write_tasks("tasks.jsonl", [{"id": "once", "command": "test -e again || exit 1"}])
    first = cli("run", "tasks.jsonl", "--retries", "0", "--id", "rt")
    assert first.returncode == 1, describe(first)
    (cli.cwd / "again").touch()

    time.sleep(IDLE_GAP_S)  # the idle gap under test, not a synchronisation
    proc = cli("retry", "rt")

    assert proc.returncode == 0, describe(proc)
    status = cli.status("rt")
    assert _seconds(status["finished_at"]) - _seconds(status["started_at"]) >= IDLE_GAP_S
    assert 0 < status["elapsed_seconds"] < IDLE_GAP_S / 2
    assert status["items_per_second"] >= 1 / (IDLE_GAP_S / 2)
    rate = re.search(r"\(([\d.]+) tasks/s\)", proc.stdout)
    assert rate and float(rate.group(1)) >= 1.0, proc.stdout
