"""taskfleet's speed benchmark: prints one JSON object, then a table on stderr.

Two measurements, side by side in one run (see bench/README.md):

(a) N zero-length ``simulate`` tasks through the whole ``taskfleet run``
    command (a subprocess: interpreter start, parsing, storing, running,
    committing), against the bare SQLite work per task (insert, claim,
    finish) in a tight in-process loop on the same schema and PRAGMAs.
(b) M ``true`` shell tasks at ``-j J`` through ``taskfleet run``, against
    GNU parallel on the same command list.

Stdlib only, plus taskfleet itself for the schema. Every run gets a fresh
database in a fresh temporary directory; a run whose tasks did not all
succeed makes the measurement invalid, not slow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

# The targets, for a 2-core machine.
TARGET_A_TASKS_PER_S = 25_000
TARGET_A_RATIO_TO_BARE = 1 / 3
TARGET_B_RATIO_TO_PARALLEL = 0.5
COMMIT_EVERY = 1000  # the bare loop's group commit, the same as taskfleet's batch size
BARE_JOB_ID = "bare"
RUNNER_ID = "bench-runner"
SIMULATE_RESULT = '{"duration":0.0}'


class BenchError(Exception):
    """A measurement could not be taken or its run did not do all the work."""


class Timing(NamedTuple):
    """One run: wall seconds, and the CPU seconds (user + sys) spent on it.

    CPU time is for reading numbers taken on a busy machine: other processes
    stretch the wall time, much less the CPU time.
    """

    wall_s: float
    cpu_s: float


def cpu_seconds(*, children: bool) -> float:
    """User + sys seconds of this process, or of its waited-for children."""
    if not children:
        return time.process_time()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Measurement:
    """Wall times of the repeats of one measurement."""

    name: str
    tasks: int
    walls_s: list[float] = field(default_factory=list)
    cpus_s: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best_s(self) -> float:
        return min(self.walls_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.walls_s)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: wall seconds and tasks/s, best and median of the repeats."""
        return {
            "tasks": self.tasks,
            "repeats": len(self.walls_s),
            "wall_s": {
                "best": round(self.best_s, 4),
                "median": round(self.median_s, 4),
                "runs": [round(w, 4) for w in self.walls_s],
            },
            "cpu_s": {
                "best": round(min(self.cpus_s), 4),
                "median": round(statistics.median(self.cpus_s), 4),
            },
            "tasks_per_s": {
                "best": round(self.tasks / self.best_s, 1),
                "median": round(self.tasks / self.median_s, 1),
            },
            **self.extra,
        }


# -- environment ----------------------------------------------------------------


def log(args: argparse.Namespace, message: str) -> None:
    """A progress line on stderr, unless --json-only."""
    if not args.json_only:
        print(message, file=sys.stderr, flush=True)


def taskfleet_command() -> list[str]:
    """The taskfleet script next to this interpreter, else ``python -m taskfleet``."""
    script = Path(sys.executable).parent / "taskfleet"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "taskfleet"]


def clean_env() -> dict[str, str]:
    """The environment without TASKFLEET_* settings that would change the runs."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TASKFLEET_")}


def find_gnu_parallel() -> tuple[str | None, str]:
    """(path, version line) of GNU parallel, or (None, the reason it is unusable)."""
    path = shutil.which("parallel")
    if path is None:
        return None, "GNU parallel is not installed"
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"'{path} --version' failed: {exc}"
    first = out.splitlines()[0] if out else ""
    if "GNU parallel" not in first:
        # moreutils ships another `parallel` with a different command line.
        return None, f"'{path}' is not GNU parallel (apt-get install parallel)"
    return path, first


def machine_info(parallel_version: str | None) -> dict[str, Any]:
    """What the numbers depend on."""
    try:
        version = metadata.version("taskfleet")
    except metadata.PackageNotFoundError:
        version = None
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "taskfleet": version,
        "gnu_parallel": parallel_version,
        "load_avg_at_start": load_average(),
    }


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine skews the numbers."""
    with contextlib.suppress(OSError, AttributeError):
        return [round(value, 2) for value in os.getloadavg()]
    return None


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    """A fresh temporary directory (kept with --keep)."""
    path = Path(tempfile.mkdtemp(prefix="taskfleet-bench-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def timed_run(argv: list[str], cwd: Path, stdin_path: Path | None = None) -> Timing:
    """Wall seconds of one whole command; BenchError if it exits non-zero."""
    with contextlib.ExitStack() as stack:
        stdin: Any = subprocess.DEVNULL
        if stdin_path is not None:
            stdin = stack.enter_context(stdin_path.open("rb"))
        cpu_start = cpu_seconds(children=True)
        start = time.perf_counter()
        proc = subprocess.run(
            argv, cwd=cwd, env=clean_env(), stdin=stdin, capture_output=True, check=False
        )
        timing = Timing(time.perf_counter() - start, cpu_seconds(children=True) - cpu_start)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-500:]
        raise BenchError(f"{' '.join(argv[:4])}... exited {proc.returncode}: {tail}")
    return timing


# -- inputs ---------------------------------------------------------------------


def write_simulate_file(path: Path, count: int) -> None:
    """N lines of {"id": "tK", "duration": 0}: the kind is inferred as simulate."""
    with path.open("w", encoding="utf-8") as out:
        out.writelines(f'{{"id": "t{i}", "duration": 0}}\n' for i in range(1, count + 1))


def write_shell_files(jsonl: Path, cmds: Path, count: int) -> None:
    """The same M ``true`` commands for taskfleet (JSONL) and GNU parallel (lines)."""
    jsonl.write_text('{"command": "true"}\n' * count, encoding="utf-8")
    cmds.write_text("true\n" * count, encoding="utf-8")


# -- taskfleet end to end ----------------------------------------------------------


def run_taskfleet(work: Path, taskfile: Path, db: Path, job_id: str, jobs: int) -> Timing:
    """Wall seconds of ``taskfleet run`` on a fresh database, checked for full success."""
    flags = ["-j", str(jobs), "--quiet", "--id", job_id]
    argv = [*taskfleet_command(), "--db", f"sqlite:///{db}", "run", str(taskfile), *flags]
    timing = timed_run(argv, work)
    verify_job(work, db, job_id, expected=count_lines(taskfile))
    return timing


def count_lines(path: Path) -> int:
    """Tasks in a JSONL file."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def verify_job(work: Path, db: Path, job_id: str, expected: int) -> None:
    """BenchError unless ``taskfleet status`` says every task succeeded."""
    argv = [*taskfleet_command(), "--db", f"sqlite:///{db}", "status", job_id, "--json"]
    proc = subprocess.run(argv, cwd=work, env=clean_env(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"taskfleet status {job_id} failed: {proc.stderr.decode()[-300:]}")
    report = json.loads(proc.stdout)
    if report["status"] != "completed" or report["succeeded"] != expected:
        raise BenchError(
            f"job {job_id}: status {report['status']}, {report['succeeded']} of "
            f"{expected} tasks succeeded: the measurement is invalid"
        )


# -- the bare SQLite baseline --------------------------------------------------------


def bare_db(path: Path) -> sqlite3.Connection:
    """A database made by taskfleet's own connect(): same schema, indexes and PRAGMAs."""
    from taskfleet.store.sqlite.schema import connect

    conn = connect(str(path))
    conn.execute(
        "INSERT INTO jobs (job_id, name, status, options, created_at) "
        "VALUES (?, '', 'running', '{}', ?)",
        (BARE_JOB_ID, time.time()),
    )
    return conn


def bare_statements() -> tuple[str, str, str]:
    """INSERT, claim and finish statements of one task, on taskfleet's columns."""
    from taskfleet.store.common.rows import TASK_INSERT_COLUMNS

    width = len(TASK_INSERT_COLUMNS.split(","))
    insert = f"INSERT INTO tasks ({TASK_INSERT_COLUMNS}) VALUES ({', '.join('?' * width)})"
    claim = (
        "UPDATE tasks SET lease_owner = ?, status = 'running', attempts = 1, started_at = ? "
        "WHERE job_id = ? AND seq = ?"
    )
    finish = (
        "UPDATE tasks SET status = 'succeeded', result = ?, error = NULL, finished_at = ?, "
        "duration_s = ?, lease_owner = NULL WHERE job_id = ? AND seq = ?"
    )
    return insert, claim, finish


def task_rows(count: int) -> Iterator[tuple[Any, ...]]:
    """The rows taskfleet inserts for {"id": "t<seq>", "duration": 0}, seq = 1..count.

    The row comes from taskfleet's own parser and row builder, so the bare
    loop writes what taskfleet writes however the defaults change.
    """
    from taskfleet.input.taskfile import read_all
    from taskfleet.store.common.rows import task_insert_row

    (spec,) = read_all([{"id": "t1", "duration": 0}])
    job_id, _, _, *rest = task_insert_row(BARE_JOB_ID, spec, ())
    for seq in range(1, count + 1):
        yield (job_id, seq, f"t{seq}", *rest)


def bare_per_task(db: Path, count: int) -> Timing:
    """Seconds for insert, claim, finish of each task, one statement each, commit per 1,000."""
    conn = bare_db(db)
    insert, claim, finish = bare_statements()
    execute = conn.execute
    rows = list(task_rows(count))  # built before the clock starts, as taskfleet's parse is
    try:
        cpu_start, start = cpu_seconds(children=False), time.perf_counter()
        execute("BEGIN")
        for seq, row in enumerate(rows, start=1):
            now = time.time()
            execute(insert, row)
            execute(claim, (RUNNER_ID, now, BARE_JOB_ID, seq))
            execute(finish, (SIMULATE_RESULT, now, 0.0, BARE_JOB_ID, seq))
            if seq % COMMIT_EVERY == 0:
                execute("COMMIT")
                execute("BEGIN")
        execute("COMMIT")
        timing = Timing(time.perf_counter() - start, cpu_seconds(children=False) - cpu_start)
        verify_bare(conn, count)
    finally:
        conn.close()
    return timing


def bare_executemany(db: Path, count: int) -> Timing:
    """Seconds for the same work as executemany batches of 1,000, one commit per batch."""
    conn = bare_db(db)
    insert, claim, finish = bare_statements()
    rows = list(task_rows(count))
    try:
        cpu_start, start = cpu_seconds(children=False), time.perf_counter()
        for first in range(1, count + 1, COMMIT_EVERY):
            seqs = range(first, min(first + COMMIT_EVERY, count + 1))
            now = time.time()
            conn.execute("BEGIN")
            conn.executemany(insert, rows[first - 1 : seqs.stop - 1])
            conn.executemany(claim, [(RUNNER_ID, now, BARE_JOB_ID, seq) for seq in seqs])
            conn.executemany(
                finish, [(SIMULATE_RESULT, now, 0.0, BARE_JOB_ID, seq) for seq in seqs]
            )
            conn.execute("COMMIT")
        timing = Timing(time.perf_counter() - start, cpu_seconds(children=False) - cpu_start)
        verify_bare(conn, count)
    finally:
        conn.close()
    return timing


def verify_bare(conn: sqlite3.Connection, count: int) -> None:
    """BenchError unless every bare task ended succeeded."""
    done = conn.execute(
        "SELECT count(*) FROM tasks WHERE job_id = ? AND status = 'succeeded'", (BARE_JOB_ID,)
    ).fetchone()[0]
    if done != count:
        raise BenchError(f"bare loop: {done} of {count} tasks succeeded")


# -- the measurements ------------------------------------------------------------------


@dataclass
class Plan:
    """What to measure: one callable per measurement, each called once per repeat."""

    steps: list[tuple[Measurement, Callable[[int], Timing]]] = field(default_factory=list)

    def add(self, measurement: Measurement, step: Callable[[int], Timing]) -> Measurement:
        self.steps.append((measurement, step))
        return measurement


def plan_a(args: argparse.Namespace, work: Path, plan: Plan) -> dict[str, Measurement]:
    """(a): taskfleet run at each --a-jobs, the bare loop and its executemany variant."""
    taskfile = work / "tasks.jsonl"
    write_simulate_file(taskfile, args.tasks)
    found: dict[str, Measurement] = {}
    for jobs in args.a_jobs:
        name = f"taskfleet_j{jobs}"

        def step(rep: int, jobs: int = jobs) -> Timing:
            return run_taskfleet(work, taskfile, work / f"a-j{jobs}-{rep}.db", f"a{rep}", jobs)

        found[name] = plan.add(Measurement(name, args.tasks, extra={"jobs": jobs}), step)
    found["bare_sqlite"] = plan.add(
        Measurement("bare_sqlite", args.tasks, extra={"commit_every": COMMIT_EVERY}),
        lambda rep: bare_per_task(work / f"bare-{rep}.db", args.tasks),
    )
    found["bare_sqlite_executemany"] = plan.add(
        Measurement("bare_sqlite_executemany", args.tasks, extra={"batch": COMMIT_EVERY}),
        lambda rep: bare_executemany(work / f"bare-many-{rep}.db", args.tasks),
    )
    return found


def plan_b(
    args: argparse.Namespace, work: Path, plan: Plan, parallel: str | None
) -> dict[str, Measurement]:
    """(b): taskfleet run and GNU parallel on the same M ``true`` commands."""
    jsonl, cmds = work / "shell.jsonl", work / "cmds.txt"
    write_shell_files(jsonl, cmds, args.shell_tasks)
    found = {
        "taskfleet": plan.add(
            Measurement("taskfleet", args.shell_tasks, extra={"jobs": args.jobs}),
            lambda rep: run_taskfleet(work, jsonl, work / f"b-{rep}.db", f"b{rep}", args.jobs),
        )
    }
    if parallel is not None:
        argv = [parallel, "--will-cite", "-j", str(args.jobs)]
        found["parallel"] = plan.add(
            Measurement("parallel", args.shell_tasks, extra={"jobs": args.jobs}),
            lambda rep: timed_run(argv, work, stdin_path=cmds),
        )
    return found


def run_plan(args: argparse.Namespace, plan: Plan) -> None:
    """Each repeat runs every measurement once, interleaved, so drift hits all alike."""
    for rep in range(1, args.repeat + 1):
        for measurement, step in plan.steps:
            wall, cpu = step(rep)
            measurement.walls_s.append(wall)
            measurement.cpus_s.append(cpu)
            log(
                args,
                f"  repeat {rep}/{args.repeat}  {measurement.name:<24} {wall:8.3f} s wall "
                f"{cpu:8.3f} s cpu {measurement.tasks / wall:10.0f} tasks/s",
            )


# -- results ---------------------------------------------------------------------------


def result_a(found: dict[str, Measurement], args: argparse.Namespace) -> dict[str, Any]:
    """(a)'s JSON: measurements, ratios, targets and pass/fail (headline: first --a-jobs)."""
    headline = found[f"taskfleet_j{args.a_jobs[0]}"]
    bare = found["bare_sqlite"]

    def judged(pick: Callable[[Measurement], float]) -> dict[str, Any]:
        rate = headline.tasks / pick(headline)
        ratio = rate / (bare.tasks / pick(bare))
        return {
            "tasks_per_s": round(rate, 1),
            "ratio_to_bare": round(ratio, 4),
            "tasks_per_s_ok": rate >= TARGET_A_TASKS_PER_S,
            "ratio_to_bare_ok": ratio >= TARGET_A_RATIO_TO_BARE,
            "pass": rate >= TARGET_A_TASKS_PER_S and ratio >= TARGET_A_RATIO_TO_BARE,
        }

    return {
        "measurements": {name: m.to_dict() for name, m in found.items()},
        "headline": headline.name,
        "targets": {
            "tasks_per_s_min": TARGET_A_TASKS_PER_S,
            "ratio_to_bare_min": round(TARGET_A_RATIO_TO_BARE, 4),
        },
        "best": judged(lambda m: m.best_s),
        "median": judged(lambda m: m.median_s),
        "pass": judged(lambda m: m.best_s)["pass"],
    }


def result_b(found: dict[str, Measurement], parallel_reason: str) -> dict[str, Any]:
    """(b)'s JSON; ``parallel`` is null, with the reason, when GNU parallel is missing."""
    fleet = found["taskfleet"]
    out: dict[str, Any] = {
        "taskfleet": fleet.to_dict(),
        "parallel": None,
        "targets": {"ratio_to_parallel_max": TARGET_B_RATIO_TO_PARALLEL},
    }
    parallel = found.get("parallel")
    if parallel is None:
        out["parallel_reason"] = parallel_reason
        out["pass"] = None
        return out
    out["parallel"] = parallel.to_dict()
    picks: dict[str, Callable[[Measurement], float]] = {
        "best": lambda m: m.best_s,
        "median": lambda m: m.median_s,
    }
    for label, pick in picks.items():
        ratio = pick(fleet) / pick(parallel)
        out[label] = {
            "ratio_to_parallel": round(ratio, 4),
            "pass": ratio <= TARGET_B_RATIO_TO_PARALLEL,
        }
    out["pass"] = out["best"]["pass"]
    return out


def table(report: dict[str, Any]) -> str:
    """A readable summary of the JSON report."""
    rows: list[tuple[str, ...]] = [
        ("measurement", "best s", "median s", "best cpu s", "best tasks/s", "target", "pass")
    ]
    if "a" in report:
        a = report["a"]
        rows += [(f"(a) {name}", *_cells(m), "", "") for name, m in a["measurements"].items()]
        best = a["best"]
        rows.append(_verdict("(a) headline tasks/s", f"{best['tasks_per_s']:.0f}", ">= 25000",
                             best["tasks_per_s_ok"]))  # fmt: skip
        rows.append(_verdict("(a) ratio to bare", f"{best['ratio_to_bare']:.3f}", ">= 0.333",
                             best["ratio_to_bare_ok"]))  # fmt: skip
    if "b" in report:
        b = report["b"]
        rows.append(("(b) taskfleet", *_cells(b["taskfleet"]), "", ""))
        if b["parallel"] is None:
            rows.append(("(b) GNU parallel", "-", "-", "-", "-", b["parallel_reason"], "n/a"))
        else:
            rows.append(("(b) GNU parallel", *_cells(b["parallel"]), "", ""))
            ratio = f"{b['best']['ratio_to_parallel']:.3f}"
            rows.append(_verdict("(b) wall vs parallel", ratio, "<= 0.5", b["pass"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _verdict(label: str, value: str, target: str, ok: bool) -> tuple[str, ...]:
    return (label, "", "", "", value, target, "yes" if ok else "NO")


def _cells(m: dict[str, Any]) -> tuple[str, str, str, str]:
    label = f" (-j {m['jobs']})" if "jobs" in m else ""
    return (
        f"{m['wall_s']['best']:.3f}",
        f"{m['wall_s']['median']:.3f}",
        f"{m['cpu_s']['best']:.3f}",
        f"{m['tasks_per_s']['best']:.0f}{label}",
    )


# -- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50_000, help="(a) simulate tasks")
    parser.add_argument("--shell-tasks", type=int, default=1000, help="(b) `true` tasks")
    parser.add_argument("--jobs", type=int, default=8, help="(b) -j for both tools")
    parser.add_argument(
        "--a-jobs",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[64, 8],
        help="(a) taskfleet -j values, comma-separated; the first is the headline [64,8]",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--only", choices=["a", "b"], help="run one measurement only")
    parser.add_argument("--json-only", action="store_true", help="no table, no progress")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if min(args.tasks, args.shell_tasks, args.jobs, args.repeat, *args.a_jobs) < 1:
        parser.error("counts must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the plan and print the report; exit 1 if a measurement was invalid."""
    args = parse_args(argv)
    parallel, parallel_note = find_gnu_parallel()
    if parallel is None and args.only != "a":
        print(f"bench: {parallel_note}; (b) runs without it.", file=sys.stderr)
        print("bench: hint: sudo apt-get install -y parallel", file=sys.stderr)
    report: dict[str, Any] = {
        "benchmark": "taskfleet engine",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(parallel_note if parallel else None),
        "config": {k: getattr(args, k) for k in ("tasks", "shell_tasks", "jobs", "a_jobs")}
        | {"repeat": args.repeat, "taskfleet_command": taskfleet_command()},
    }
    with workdir(args.keep) as work:
        log(args, f"bench: working in {work}")
        plan = Plan()
        found_a = plan_a(args, work, plan) if args.only != "b" else None
        found_b = plan_b(args, work, plan, parallel) if args.only != "a" else None
        try:
            run_plan(args, plan)
        except BenchError as exc:
            report["error"] = str(exc)
            print(json.dumps(report, indent=2))
            print(f"bench: invalid: {exc}", file=sys.stderr)
            return 1
    report["machine"]["load_avg_at_end"] = load_average()
    if found_a is not None:
        report["a"] = result_a(found_a, args)
    if found_b is not None:
        report["b"] = result_b(found_b, parallel_note)
    print(json.dumps(report, indent=2))
    if not args.json_only:
        print("\n" + table(report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
