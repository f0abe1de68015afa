"""Drive the ``taskfleet`` command as a user does: a subprocess in a temporary directory.

Nothing here sleeps for a fixed time to synchronise: ``wait_for`` polls a
predicate with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

CLI_TIMEOUT_S = 60.0
POLL_S = 0.05

# SPEC section 4: `status --json` (and `run --json`) has at least these keys.
STATUS_KEYS = frozenset(
    {
        "job_id",
        "name",
        "status",
        "total",
        "pending",
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "skipped",
        "progress",
        "created_at",
        "started_at",
        "finished_at",
        "elapsed_seconds",
        "items_per_second",
        "eta_seconds",
    }
)
# SPEC section 4: `results --format jsonl` records have at least these keys.
RESULT_KEYS = frozenset(
    {"id", "kind", "status", "attempts", "result", "error", "started_at", "finished_at", "duration"}
)
# SPEC section 4: `tasks --json` rows.
TASK_ROW_KEYS = frozenset({"id", "kind", "status", "attempts", "priority", "error"})


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without any TASKFLEET_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKFLEET_")}
    env.pop("PYTHONSTARTUP", None)
    env.update(extra or {})
    return env


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, message: str = "condition") -> T:
    """Poll ``predicate`` every 50 ms until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(POLL_S)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its reaper counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat[stat.rindex(")") + 2 :].split()[0]
    return state not in ("Z", "X")


def read_lines(path: Path) -> list[str]:
    """The non-empty lines of a file, or [] if it does not exist yet."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_pid(path: Path) -> int | None:
    """A pid written by a task (``echo $! > file``), once it is complete."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") and text.strip().isdigit() else None


def is_iso_utc(text: str | None) -> bool:
    """Whether ``text`` is an ISO 8601 timestamp in UTC."""
    if not isinstance(text, str):
        return False
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    offset = parsed.utcoffset()
    return offset is not None and offset.total_seconds() == 0


def intervals(log: Path) -> dict[str, tuple[float, float]]:
    """``start ID T`` / ``end ID T`` lines of a log -> {id: (start, end)}."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for line in read_lines(log):
        what, task_id, stamp = line.split()
        (starts if what == "start" else ends)[task_id] = float(stamp)
    assert set(starts) == set(ends), f"unfinished intervals in {log}: {starts}, {ends}"
    return {task_id: (starts[task_id], ends[task_id]) for task_id in starts}


def overlapping_pairs(spans: Mapping[str, tuple[float, float]]) -> list[tuple[str, str]]:
    """Pairs of ids whose intervals overlap in time."""
    ids = sorted(spans)
    pairs = []
    for i, first in enumerate(ids):
        for second in ids[i + 1 :]:
            (s1, e1), (s2, e2) = spans[first], spans[second]
            if s1 < e2 and s2 < e1:
                pairs.append((first, second))
    return pairs


def timed_command(task_id: str, log: str = "iv.log", seconds: float = 0.2) -> str:
    """A shell command that logs its start and end time (for overlap checks)."""
    return (
        f'echo "start {task_id} $(date +%s.%N)" >> {log}; sleep {seconds}; '
        f'echo "end {task_id} $(date +%s.%N)" >> {log}'
    )


class Cli:
    """Runs ``python -m taskfleet`` in one directory with a clean environment."""

    def __init__(self, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env = clean_env(env)
        self.started: list[Background] = []
        self._outputs = 0

    def _env(self, env: Mapping[str, str] | None) -> dict[str, str]:
        return {**self.env, **(env or {})}

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = CLI_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "taskfleet", *args],
            cwd=self.cwd,
            env=self._env(env),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run_job(self, *args: str, **kwargs: Any) -> RunOutcome:
        """``run``/``resume``/``retry`` with ``--json -o FILE``: the exit code, the final
        status object and the results records (by id) from one command."""
        self._outputs += 1
        output = self.cwd / f"results-{self._outputs}.jsonl"
        proc = self(*args, "--json", "-o", str(output), **kwargs)
        status = json.loads(proc.stdout) if proc.stdout.strip() else {}
        records = [json.loads(line) for line in read_lines(output)]
        return RunOutcome(proc, status, {record["id"]: record for record in records})

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run and insist on exit code 0."""
        proc = self(*args, **kwargs)
        assert proc.returncode == 0, describe(proc)
        return proc

    def json(self, *args: str, **kwargs: Any) -> Any:
        """Run, insist on exit code 0, parse stdout as one JSON document."""
        return json.loads(self.ok(*args, **kwargs).stdout)

    def jsonl(self, *args: str, **kwargs: Any) -> list[Any]:
        """Run, insist on exit code 0, parse stdout as JSON Lines."""
        stdout = self.ok(*args, **kwargs).stdout
        return [json.loads(line) for line in stdout.splitlines() if line.strip()]

    def status(self, job_id: str, **kwargs: Any) -> dict[str, Any]:
        return self.json("status", job_id, "--json", **kwargs)  # type: ignore[no-any-return]

    def tasks(self, job_id: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
        """``tasks JOB --json`` keyed by task id."""
        rows = self.json("tasks", job_id, "--json", **kwargs)
        return {row["id"]: row for row in rows}

    def results(self, job_id: str, *extra: str, **kwargs: Any) -> list[dict[str, Any]]:
        return self.jsonl("results", job_id, *extra, **kwargs)

    def start(
        self, *args: str, env: Mapping[str, str] | None = None, name: str = "bg"
    ) -> Background:
        """Start the command in the background; output goes to files in cwd."""
        background = Background(self, args, self._env(env), name)
        self.started.append(background)
        return background

    def cleanup(self) -> None:
        """Kill what a test left running: its background commands and the pids its tasks wrote."""
        for background in self.started:
            background.kill()
        for pid_file in self.cwd.rglob("*.pid"):
            for line in read_lines(pid_file):
                if line.isdigit() and pid_alive(int(line)):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(line), signal.SIGKILL)

    def write_tasks(self, name: str, tasks: Iterable[Mapping[str, Any]]) -> Path:
        """A JSONL task file in cwd."""
        path = self.cwd / name
        path.write_text("".join(json.dumps(task) + "\n" for task in tasks))
        return path


@dataclass
class RunOutcome:
    """What one ``run --json -o FILE`` told: exit code, status object, results by task id."""

    proc: subprocess.CompletedProcess[str]
    status: dict[str, Any]
    tasks: dict[str, dict[str, Any]]

    @property
    def code(self) -> int:
        return self.proc.returncode

    def states(self) -> dict[str, str]:
        return {task_id: record["status"] for task_id, record in self.tasks.items()}


class Background:
    """A ``taskfleet`` process started with Popen, in our session (signals go where sent)."""

    def __init__(self, cli: Cli, args: Sequence[str], env: dict[str, str], name: str) -> None:
        self.stdout_path = cli.cwd / f"{name}.stdout"
        self.stderr_path = cli.cwd / f"{name}.stderr"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "taskfleet", *args],
                cwd=cli.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=False,
            )
        self.pid = self.proc.pid

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait(self, timeout: float = CLI_TIMEOUT_S) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=CLI_TIMEOUT_S)


def describe(proc: subprocess.CompletedProcess[str]) -> str:
    """Text for an assertion message about a finished command."""
    return (
        f"command {proc.args[3:]} exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )
