"""The Python API (SPEC section 6): taskfleet.run, taskfleet.map and Fleet."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import taskfleet
from e2e.helpers import wait_for

from . import api_functions

FN_MODULE = api_functions.__name__


def taskfleet_cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `taskfleet` command on the store ``db``, with no TASKFLEET_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKFLEET_")}
    return subprocess.run(
        [sys.executable, "-m", "taskfleet", "--db", str(db), *args],
        env=env,
        cwd=db.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli_json(db: Path, *args: str) -> Any:
    proc = taskfleet_cli(db, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# -- taskfleet.run ---------------------------------------------------------------


def test_run_returns_a_summary_with_results_in_input_order() -> None:
    tasks = [
        {"id": "slow", "duration": 0.3, "output": "first"},
        {"id": "shell", "command": "echo hi"},
        {"id": "py", "function": f"{FN_MODULE}:triple_plus_one", "args": [4]},
        {
            "id": "async",
            "kind": "python",
            "function": f"{FN_MODULE}:async_describe",
            "args": ["world"],
            "kwargs": {"greeting": "hi"},
        },
    ]

    summary = taskfleet.run(tasks, concurrency=4)

    assert summary.ok is True
    assert summary.status == "completed"
    assert summary["succeeded"] == 4
    assert summary["total"] == 4
    assert summary["failed"] == 0
    assert [r["id"] for r in summary.results] == ["slow", "shell", "py", "async"]
    results = {r["id"]: r["result"] for r in summary.results}
    assert results["slow"] == "first"
    assert results["shell"]["stdout"] == "hi\n"
    assert results["py"] == 13
    assert results["async"] == {"text": "hi world"}


def test_run_reports_failures_without_raising() -> None:
    tasks = [
        {"id": "good", "duration": 0},
        {"id": "bad", "function": f"{FN_MODULE}:fail_on_two", "args": [2]},
        {"id": "after", "duration": 0, "depends_on": ["bad"]},
    ]

    summary = taskfleet.run(tasks, concurrency=2, retries=0)

    assert summary.ok is False
    assert summary.status == "failed"
    assert (summary["succeeded"], summary["failed"], summary["skipped"]) == (1, 1, 1)
    bad = summary.results[1]
    assert (bad["id"], bad["status"], bad["attempts"]) == ("bad", "failed", 1)
    assert "ValueError" in bad["error"] and "two is not allowed" in bad["error"]
    assert summary.results[2]["status"] == "skipped"


def test_run_with_db_is_visible_to_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "x.db"

    summary = taskfleet.run(
        [{"id": "a", "duration": 0, "output": 1}, {"id": "b", "command": "true"}],
        concurrency=2,
        db=db,
    )

    assert summary.ok
    jobs = cli_json(db, "jobs", "--json")
    assert len(jobs) == 1
    job_id = jobs[0]["job_id"]
    status = cli_json(db, "status", job_id, "--json")
    assert (status["status"], status["succeeded"], status["total"]) == ("completed", 2, 2)
    assert summary["job_id"] == job_id


def test_run_rejects_bad_tasks_and_stores_nothing(tmp_path: Path) -> None:
    db = tmp_path / "bad.db"

    with pytest.raises(taskfleet.TaskfileError) as caught:
        taskfleet.run(
            [{"id": "a", "duration": 0}, {"id": "b", "command": "true", "retries": "two"}],
            db=db,
        )

    assert "retries" in str(caught.value)
    assert cli_json(db, "jobs", "--json") == []


# -- taskfleet.map -----------------------------------------------------------------


def test_map_module_function_in_input_order(tmp_path: Path) -> None:
    snapshots: list[object] = []
    items = list(range(12))

    results = taskfleet.map(
        api_functions.slow_square,
        items,
        concurrency=8,
        db=tmp_path / "map.db",
        on_progress=snapshots.append,
    )

    assert results == [x * x for x in items]
    assert snapshots, "on_progress was never called"


def test_map_lambda_in_input_order(tmp_path: Path) -> None:
    items = ["a", "bb", "ccc", "dddd"]

    assert taskfleet.map(lambda s: s.upper(), items, concurrency=8) == ["A", "BB", "CCC", "DDDD"]
    assert taskfleet.map(lambda s: len(s), items, concurrency=8, db=tmp_path / "l.db") == [
        1,
        2,
        3,
        4,
    ]


def test_map_called_again_returns_stored_results_without_rerunning(tmp_path: Path) -> None:
    calls: list[int] = []

    def record(x: int) -> int:
        calls.append(x)
        return x + 100

    db = tmp_path / "again.db"
    assert taskfleet.map(record, [1, 2, 3], concurrency=2, db=db) == [101, 102, 103]
    assert taskfleet.map(record, [1, 2, 3], concurrency=2, db=db) == [101, 102, 103]
    assert sorted(calls) == [1, 2, 3]


def test_map_two_different_lambdas_on_one_db(tmp_path: Path) -> None:
    db = tmp_path / "lambdas.db"
    items = [1, 2, 3]

    assert taskfleet.map(lambda x: x + 1, items, db=db) == [2, 3, 4]
    assert taskfleet.map(lambda x: x * 10, items, db=db) == [10, 20, 30]


def test_map_failure_raises_job_failed_with_errors(tmp_path: Path) -> None:
    with pytest.raises(taskfleet.JobFailed) as caught:
        taskfleet.map(api_functions.fail_on_two, [0, 1, 2, 3], retries=0, db=tmp_path / "f.db")

    errors = caught.value.errors
    assert len(errors) == 1
    (error,) = errors.values()
    assert "ValueError" in error and "two is not allowed" in error


def test_map_called_again_after_a_failure_runs_only_what_failed(tmp_path: Path) -> None:
    api_functions.CALLS.clear()
    db = tmp_path / "retry.db"
    fn = api_functions.fails_first_time_on_two

    with pytest.raises(taskfleet.JobFailed):
        taskfleet.map(fn, [1, 2, 3], concurrency=3, retries=0, db=db)
    results = taskfleet.map(fn, [1, 2, 3], concurrency=3, retries=0, db=db)

    assert results == [-1, -2, -3]
    assert api_functions.CALLS == {1: 1, 2: 2, 3: 1}


HELPER_MODULE = """\
import time
from pathlib import Path

LOG = Path(__file__).with_name("map.log")


def slow_fn(x):
    with LOG.open("a") as log:
        log.write(f"{x}\\n")
    time.sleep(0.1)
    return 7 * x + 3
"""

CHILD_SCRIPT = """\
import sys

sys.path.insert(0, {directory!r})
import maphelp
import taskfleet

taskfleet.map(maphelp.slow_fn, range(40), concurrency=4, db={db!r})
print("child finished")
"""


@pytest.fixture
def maphelp_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "maphelp.py").write_text(HELPER_MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("maphelp", None)


def test_map_resumes_after_kill_9(maphelp_dir: Path) -> None:
    db = maphelp_dir / "map.db"
    log = maphelp_dir / "map.log"
    script = maphelp_dir / "child.py"
    script.write_text(CHILD_SCRIPT.format(directory=str(maphelp_dir), db=str(db)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKFLEET_")}
    child = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=maphelp_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: log.exists() and len(log.read_text().splitlines()) >= 12,
            message="12 items to start",
        )
    finally:
        child.send_signal(signal.SIGKILL)
        stdout, _ = child.communicate(timeout=30)
    assert b"child finished" not in stdout, "the kill came too late"

    jobs = cli_json(db, "jobs", "--json")
    assert len(jobs) == 1
    assert jobs[0]["status"] == "interrupted"
    done = taskfleet_cli(db, "results", jobs[0]["job_id"], "--status", "succeeded")
    assert done.returncode == 0, done.stderr
    succeeded_before = {
        (json.loads(line)["result"] - 3) // 7 for line in done.stdout.splitlines() if line
    }
    assert 0 < len(succeeded_before) < 40, "the kill came too early or too late"
    seen_before = collections.Counter(int(x) for x in log.read_text().split())

    import maphelp  # the same module the child used, from the same place

    results = taskfleet.map(maphelp.slow_fn, range(40), concurrency=4, db=db)

    assert results == [7 * x + 3 for x in range(40)]
    final = collections.Counter(int(x) for x in log.read_text().split())
    assert set(final) == set(range(40))
    # an item recorded succeeded had written its one log line before the kill
    ran_again = sorted(x for x in succeeded_before if final[x] != 1 or seen_before[x] != 1)
    assert ran_again == [], f"items recorded succeeded before the kill ran again: {ran_again}"
    assert cli_json(db, "status", jobs[0]["job_id"], "--json")["status"] == "completed"


# -- Fleet -------------------------------------------------------------------------


async def test_fleet_submit_run_status_results_events(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    tasks = [
        {"id": "slow", "duration": 0.2, "output": "s"},
        {"id": "flaky", "duration": 0, "fail_times": 1, "output": "f"},
        {"id": "py", "function": f"{FN_MODULE}:triple_plus_one", "args": [1]},
        {"id": "last", "command": "echo last", "depends_on": ["py"]},
    ]
    events: list[Any] = []

    async with taskfleet.Fleet(db=db) as fleet:
        job_id = await fleet.submit(tasks, job_id="fleet-job", concurrency=2, retry_delay=0)
        assert job_id == "fleet-job"
        queued = await fleet.status(job_id)
        assert (queued["status"], queued["total"]) == ("queued", 4)

        async def collect() -> None:
            async for event in fleet.events(job_id):
                events.append(event)

        collector = asyncio.create_task(collect())
        await asyncio.sleep(0)  # let the collector subscribe
        summary = await fleet.run(job_id)
        await asyncio.wait_for(collector, timeout=10)

        status = await fleet.status(job_id)
        results = await fleet.results(job_id)

    assert summary.ok and summary.status == "completed"
    assert (status["status"], status["succeeded"]) == ("completed", 4)
    assert [r["id"] for r in results] == ["slow", "flaky", "py", "last"]
    assert [r["result"] for r in results[:3]] == ["s", "f", 4]
    assert results[1]["attempts"] == 2

    by_task: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
    for event in events:
        assert event.job_id == job_id
        by_task[event.task_id].append((str(event.status), event.attempt))
    assert set(by_task) == {"slow", "flaky", "py", "last"}
    for task_id, seen in by_task.items():
        assert seen[0][0] == "running", (task_id, seen)
        assert seen[-1][0] == "succeeded", (task_id, seen)
    assert ("running", 1) in by_task["flaky"] and ("running", 2) in by_task["flaky"]
    # a dependant starts only after its dependency succeeded
    assert events.index(next(e for e in events if e.task_id == "last")) > events.index(
        next(e for e in events if e.task_id == "py" and str(e.status) == "succeeded")
    )

    stored = cli_json(db, "status", "fleet-job", "--json")
    assert (stored["status"], stored["succeeded"]) == ("completed", 4)


def test_run_accepts_profiles_and_resources_as_plain_tables() -> None:
    profiles = {"echoer": {"kind": "shell", "command": "printf '%s' {prompt}", "concurrency": 1}}
    summary = taskfleet.run(
        [{"agent": "echoer", "prompt": "it's $(nothing)"}, {"duration": 0, "resources": ["gpu"]}],
        profiles=profiles,
        resources={"gpu": 1},
    )
    assert summary.ok
    assert summary.results[0]["result"]["stdout"] == "it's $(nothing)"
    with pytest.raises(taskfleet.TaskfleetError):
        taskfleet.run([{"duration": 0}], profiles={"bad": {"concurrency": 0}})


async def test_fleet_runs_with_the_lease_of_its_settings_and_takes_run_modes(
    tmp_path: Path,
) -> None:
    import dataclasses

    from taskfleet.model import RunMode

    async with taskfleet.Fleet(db=tmp_path / "lease.db") as fleet:
        assert fleet.settings.db == f"sqlite:///{tmp_path / 'lease.db'}"
        assert fleet.settings.lease == 30.0  # the default: the Python API reads no config file
        fleet.settings = dataclasses.replace(fleet.settings, lease=4.0)
        job_id = await fleet.submit([{"id": "a", "duration": 0}], retries=0)
        summary = await fleet.run(job_id, mode=RunMode.RESUME)
        again = await fleet.run(job_id, mode="retry")  # the words still work
        job = await fleet.store.get_job(job_id)
    assert summary.ok and again.ok
    assert job.runner is not None and job.runner.lease_s == 4.0
