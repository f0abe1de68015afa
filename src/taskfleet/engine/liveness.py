"""Who runs a job, and whether that runner is still alive.

Same host: the runner's process is checked at once (pid exists and was
started no later than the runner, so a recycled pid does not count). Another
host: the runner is alive while its heartbeat is younger than its lease.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from functools import cache

from taskfleet.model import WORKER_RUNNER_PREFIX, Job, JobStatus, RunnerInfo
from taskfleet.store.base import Store

DEFAULT_LEASE_S = 30.0
_PID_START_SLACK_S = 2.0


@cache
def this_host() -> str:
    """This machine's name as recorded with runners."""
    return socket.gethostname()


def new_runner(lease_s: float = DEFAULT_LEASE_S, *, worker: bool = False) -> RunnerInfo:
    """A RunnerInfo for this process; ``worker``: its jobs go to other workers if it dies."""
    now = time.time()
    pid = os.getpid()
    runner_id = f"{this_host()}:{pid}:{uuid.uuid4().hex[:8]}"
    if worker:
        runner_id = WORKER_RUNNER_PREFIX + runner_id
    return RunnerInfo(runner_id, this_host(), pid, now, now, lease_s)


def runner_is_alive(runner: RunnerInfo, now: float) -> bool:
    """Whether the process recorded as a job's runner still runs."""
    if runner.host != this_host():
        return now - runner.heartbeat_at <= runner.lease_s
    if runner.pid == os.getpid():
        return True
    try:
        # PermissionError: the process exists but belongs to another user.
        with contextlib.suppress(PermissionError):
            os.kill(runner.pid, 0)
    except ProcessLookupError:
        return False
    state, started = _process_state(runner.pid)
    if state in (b"Z", b"X"):
        return False  # killed, only not reaped yet by its parent
    return started is None or started <= runner.started_at + _PID_START_SLACK_S


def _process_state(pid: int) -> tuple[bytes | None, float | None]:
    """The state letter of ``pid`` and when it started (Linux /proc), or Nones."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            stat = stat_file.read()
        # The command name may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rindex(b")") + 2 :].split()
    except (OSError, ValueError):
        return None, None
    return fields[0], _start_time(fields)


def _start_time(fields: list[bytes]) -> float | None:
    try:
        start_ticks = int(fields[19])
        with open("/proc/stat", "rb") as proc_stat:
            for line in proc_stat:
                if line.startswith(b"btime "):
                    boot_time = int(line.split()[1])
                    break
            else:
                return None
        return boot_time + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def reap_if_dead(store: Store, job: Job, now: float | None = None) -> Job:
    """Mark a running job whose runner is gone ``interrupted``; return the job as it is now."""
    if job.status is not JobStatus.RUNNING or job.runner is None:
        return job
    now = time.time() if now is None else now
    if runner_is_alive(job.runner, now):
        return job
    # The run ended with its runner's last heartbeat, not when this reader noticed.
    ended_at = min(job.runner.heartbeat_at, now)
    await store.release_job(job.job_id, job.runner.runner_id, JobStatus.INTERRUPTED, ended_at)
    return await store.get_job(job.job_id)
