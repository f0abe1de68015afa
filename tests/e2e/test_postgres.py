"""The command line on a PostgreSQL store: run, read back, and workers sharing one database."""

from __future__ import annotations

import collections
import json
from typing import Any

from .helpers import Cli, describe, read_lines, wait_for

# A task that waits (at most ~10 s) until the other job's task has started: the
# two jobs can only finish if two workers run them at the same time.
BARRIER = (
    "echo {me} {task} >> runs.log; touch {me}.started; n=0; "
    "while [ ! -f {other}.started ]; do n=$((n+1)); [ $n -gt 200 ] && exit 9; sleep 0.05; done"
)


def test_run_status_and_results_on_postgres(cli: Cli, pg_url: str) -> None:
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": "a", "duration": 0.01, "output": {"n": 1}},
            {"id": "b", "command": "echo b", "depends_on": ["a"]},
            {"id": "c", "command": "exit 3", "retries": 0},
            {"id": "d", "duration": 0, "depends_on": ["c"]},
        ],
    )

    run = cli("--db", pg_url, "run", "tasks.jsonl", "--id", "pg-job", "--json", "--quiet")

    assert run.returncode == 1, describe(run)
    status = cli.json("--db", pg_url, "status", "pg-job", "--json")
    assert (status["status"], status["total"]) == ("failed", 4)
    assert (status["succeeded"], status["failed"], status["skipped"]) == (2, 1, 1)
    records = {r["id"]: r for r in cli.jsonl("--db", pg_url, "results", "pg-job")}
    assert list(records) == ["a", "b", "c", "d"]
    assert records["a"]["result"] == {"n": 1}
    assert records["b"]["result"]["stdout"] == "b\n"
    assert (records["c"]["status"], records["c"]["attempts"]) == ("failed", 1)
    assert records["d"]["status"] == "skipped"
    # Nothing went to the default SQLite file.
    assert not (cli.cwd / ".taskfleet").exists()


def test_two_workers_drain_submitted_jobs_without_running_one_twice(cli: Cli, pg_url: str) -> None:
    cli.env["TASKFLEET_DB"] = pg_url
    jobs: dict[str, list[dict[str, Any]]] = {
        "j1": [{"id": "t1", "command": BARRIER.format(me="j1", other="j2", task="t1")}],
        "j2": [{"id": "t1", "command": BARRIER.format(me="j2", other="j1", task="t1")}],
    }
    for number in range(3, 7):
        jobs[f"j{number}"] = [
            {"id": f"t{task}", "command": f"echo j{number} t{task} >> runs.log; sleep 0.05"}
            for task in range(1, 4)
        ]
    for job_id, tasks in jobs.items():
        cli.write_tasks(f"{job_id}.jsonl", tasks)
        assert cli.ok("submit", f"{job_id}.jsonl", "--id", job_id).stdout.strip() == job_id

    workers = [cli.start("worker", "--once", name=f"worker{n}") for n in (1, 2)]

    for worker in workers:
        assert worker.wait() == 0, worker.stderr
    expected = sorted(f"{job_id} {task['id']}" for job_id, tasks in jobs.items() for task in tasks)
    assert sorted(read_lines(cli.cwd / "runs.log")) == expected
    runner_pids = set()
    for job_id, tasks in jobs.items():
        status = cli.status(job_id)
        assert (status["status"], status["succeeded"]) == ("completed", len(tasks)), status
        runner_pids.add(status["runner"]["pid"])
        assert all(record["attempts"] == 1 for record in cli.results(job_id))
    # j1 and j2 can only have finished side by side, one in each worker.
    assert runner_pids == {worker.pid for worker in workers}
    listed = json.loads(cli.ok("jobs", "--json").stdout)
    assert sorted(job["job_id"] for job in listed) == sorted(jobs)


def test_kill_9_mid_run_then_resume_on_postgres(cli: Cli, pg_url: str) -> None:
    cli.env["TASKFLEET_DB"] = pg_url
    count = 30
    cli.write_tasks(
        "tasks.jsonl",
        [
            {"id": f"t{i:02d}", "command": f"sleep 0.1; echo t{i:02d} >> log.txt"}
            for i in range(count)
        ],
    )
    log = cli.cwd / "log.txt"
    run = cli.start("run", "tasks.jsonl", "-j", "3", "--id", "crash")
    wait_for(lambda: len(read_lines(log)) >= 6, message="6 tasks to log")

    run.kill()  # SIGKILL: no chance to release anything

    assert cli.status("crash")["status"] == "interrupted"
    succeeded_before = {r["id"] for r in cli.results("crash", "--status", "succeeded")}
    assert 0 < len(succeeded_before) < count
    resumed = cli.run_job("resume", "crash")
    assert resumed.code == 0, describe(resumed.proc)
    assert (resumed.status["status"], resumed.status["succeeded"]) == ("completed", count)
    counts = collections.Counter(read_lines(log))
    assert set(counts) == {f"t{i:02d}" for i in range(count)}
    assert [t for t in succeeded_before if counts[t] != 1] == []
