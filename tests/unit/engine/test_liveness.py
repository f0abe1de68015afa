"""Whether a job's runner is alive: same host by process, other hosts by lease."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from taskfleet.engine.liveness import runner_is_alive, this_host
from taskfleet.model import RunnerInfo


def info(
    pid: int,
    *,
    host: str | None = None,
    started_at: float | None = None,
    heartbeat_at: float = 0.0,
    lease_s: float = 30.0,
) -> RunnerInfo:
    now = time.time()
    return RunnerInfo("r", host or this_host(), pid, started_at or now, heartbeat_at, lease_s)


def test_this_process_is_alive() -> None:
    assert runner_is_alive(info(os.getpid()), time.time())


def test_a_running_child_is_alive_and_a_killed_one_is_not() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert runner_is_alive(info(child.pid), time.time())
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 5
        # Not reaped yet: a zombie, which must count as dead.
        while runner_is_alive(info(child.pid), time.time()):
            assert time.monotonic() < deadline, "a killed runner still looks alive"
            time.sleep(0.01)
    finally:
        child.kill()
        child.wait()
    assert not runner_is_alive(info(child.pid), time.time())


def test_a_recycled_pid_is_not_the_runner() -> None:
    # pid 1 exists, but it started long after a runner recorded as started in 1970.
    assert not runner_is_alive(info(1, started_at=1000.0), time.time())


def test_other_host_lives_by_its_lease() -> None:
    now = time.time()
    assert runner_is_alive(info(1, host="elsewhere", heartbeat_at=now - 10), now)
    assert not runner_is_alive(info(1, host="elsewhere", heartbeat_at=now - 31), now)
