"""taskfleet's agent benchmark: prints one JSON object, then a table on stderr.

Two measurements (see bench/README.md, "bench_agents.py"):

(agents) on a repository of F files, N agent tasks at ``-j J`` whose
    stand-in agent (an external agent profile running a small script that
    sleeps S seconds and writes one file in its scope) takes S seconds,
    through ``taskfleet run``: wall against the ideal ceil(N / J) * S. What
    is over the ideal is worktree set-up, commit and tear-down.
(merges) M agent branches on the same kind of repository, merged by
    ``taskfleet merge JOB --merge-check "sleep C"``: wall against M * (C + 0.3).
    The branches and the succeeded tasks that name them are made directly
    (git and the store), so this half needs no agent at all.

Stdlib plus taskfleet itself. Every run works in a fresh temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

TARGET_AGENTS_RATIO = 1.3  # wall <= 1.3 x the ideal
MERGE_OVERHEAD_BUDGET_S = 0.3  # per merge, on top of its check
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
    "GIT_TERMINAL_PROMPT": "0",
}
STAND_IN_AGENT = """#!/bin/sh
# The stand-in agent: takes $1 seconds, then writes the file its prompt names.
sleep "$1"
mkdir -p "$(dirname "$2")"
echo "written by the stand-in agent" > "$2"
"""


class BenchError(Exception):
    """A measurement could not be taken or its run did not do all the work."""


def log(args: argparse.Namespace, message: str) -> None:
    if not args.json_only:
        print(message, file=sys.stderr, flush=True)


def git(repo: Path, *args: str, stdin: str | None = None, index: Path | None = None) -> str:
    """Run git in ``repo`` (with that index file); its stdout. BenchError when it fails."""
    extra = {} if index is None else {"GIT_INDEX_FILE": str(index)}
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, **extra},
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def taskfleet(work: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run the taskfleet command in ``work``; return (wall seconds, the process)."""
    script = Path(sys.executable).parent / "taskfleet"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "taskfleet"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKFLEET_")}
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--db", f"sqlite:///{work / 'tf.db'}", *args],
        cwd=work,
        capture_output=True,
        text=True,
        env={**env, **GIT_ENV},
        check=False,
    )
    return time.perf_counter() - started, done


def make_repo(path: Path, files: int) -> Path:
    """A repository on main with ``files`` small files in 40 directories, one commit."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "-b", "main")
    for index in range(files):
        folder = path / f"pkg{index % 40}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{index}.py").write_text(f"VALUE_{index} = {index}\n")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "initial")
    return path


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="taskfleet-bench-agents-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


# -- (agents) --------------------------------------------------------------------


def agent_kind_available() -> bool:
    """Whether the ``agent`` kind is registered (it lands with the agent kind's branch)."""
    return any(ep.name == "agent" for ep in metadata.entry_points(group="taskfleet.kinds"))


def bench_agents(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """N stand-in agents at -j J through ``taskfleet run``; wall against the ideal."""
    repo = make_repo(work / "repo", args.files)
    agent = work / "stand_in_agent.sh"
    agent.write_text(STAND_IN_AGENT)
    (work / "taskfleet.toml").write_text(
        "[profiles.standin]\n"
        'kind = "agent"\n'
        f'command = "sh {agent} {args.agent_seconds} {{prompt}}"\n'
        f"concurrency = {args.jobs}\n"
    )
    with (work / "agents.jsonl").open("w") as tasks:
        for index in range(args.tasks):
            folder = f"pkg{index % 40}"
            task = {
                "id": f"t{index + 1}",
                "kind": "agent",
                "profile": "standin",
                "prompt": f"{folder}/new_{index + 1}.py",
                "repo": str(repo),
                "scope": [f"{folder}/new_{index + 1}.py"],
            }
            tasks.write(json.dumps(task) + "\n")
    wall_s, done = taskfleet(work, "run", "agents.jsonl", "-j", str(args.jobs), "--json", "-q")
    if done.returncode != 0:
        raise BenchError(f"taskfleet run exited {done.returncode}: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    if summary.get("succeeded") != args.tasks:
        raise BenchError(f"only {summary.get('succeeded')} of {args.tasks} agent tasks succeeded")
    leftovers = list((repo / ".taskfleet" / "worktrees").glob("*/*/"))
    ideal_s = math.ceil(args.tasks / args.jobs) * args.agent_seconds
    return {
        "tasks": args.tasks,
        "jobs": args.jobs,
        "files": args.files,
        "agent_s": args.agent_seconds,
        "wall_s": round(wall_s, 3),
        "ideal_s": ideal_s,
        "ratio": round(wall_s / ideal_s, 3),
        "target_ratio": TARGET_AGENTS_RATIO,
        "meets_target": wall_s <= TARGET_AGENTS_RATIO * ideal_s,
        "worktrees_left": len(leftovers),
    }


# -- (merges) --------------------------------------------------------------------


def make_branches(repo: Path, job_id: str, count: int) -> list[dict[str, Any]]:
    """``count`` branches ``taskfleet/<job>/tN``, each adding one file; their results."""
    base = git(repo, "rev-parse", "HEAD").strip()
    results = []
    for index in range(1, count + 1):
        branch = f"taskfleet/{job_id}/t{index}"
        # A commit made with plumbing: no checkout, so making many stays cheap.
        blob = git(repo, "hash-object", "-w", "--stdin", stdin=f"MERGED_{index} = {index}\n")
        index_file = repo / ".git" / f"bench-index-{index}"
        entry = f"100644,{blob.strip()},pkg{index % 40}/merged_{index}.py"
        git(repo, "read-tree", base, index=index_file)
        git(repo, "update-index", "--add", "--cacheinfo", entry, index=index_file)
        tree = git(repo, "write-tree", index=index_file).strip()
        index_file.unlink()
        commit = git(repo, "commit-tree", tree, "-p", base, "-m", f"t{index}: add merged_{index}")
        git(repo, "branch", branch, commit.strip())
        results.append(
            {
                "branch": branch,
                "commit": commit.strip(),
                "base": base,
                "repo": str(repo),
                "loops": 1,
                "merged": False,
            }
        )
    return results


async def store_succeeded_agent_job(db: Path, job_id: str, results: list[dict[str, Any]]) -> None:
    """A completed job whose agent tasks succeeded with these results, as the kind leaves it."""
    from taskfleet.model import (
        AttemptFinished,
        AttemptOutcome,
        AttemptStarted,
        Job,
        JobOptions,
        JobStatus,
        RunnerInfo,
        TaskSpec,
        TaskStatus,
    )
    from taskfleet.store.sqlite.store import SqliteStore

    store = SqliteStore(str(db))
    await store.open()
    try:
        specs = [
            TaskSpec(id=f"t{seq}", seq=seq, kind="agent", spec={"prompt": f"add merged_{seq}"})
            for seq in range(1, len(results) + 1)
        ]
        await store.create_job(Job(job_id, job_id, JobStatus.QUEUED, JobOptions(), 1.0, 0), specs)
        runner = RunnerInfo("bench", "bench", os.getpid(), 1.0, 1.0, 30.0)
        await store.acquire_job(job_id, runner, [JobStatus.QUEUED])
        await store.claim_tasks(job_id, "bench", len(specs))
        updates: list[Any] = []
        for seq, result in enumerate(results, start=1):
            updates.append(AttemptStarted(seq, 1, "bench", 2.0))
            updates.append(
                AttemptFinished(
                    seq, 1, TaskStatus.SUCCEEDED, AttemptOutcome.SUCCEEDED, 3.0, 1.0, 0, result
                )
            )
        await store.record_attempts(job_id, updates)
        await store.release_job(job_id, "bench", JobStatus.COMPLETED, 4.0)
    finally:
        await store.close()


def bench_merges(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """M branches merged by ``taskfleet merge`` with a C s check; wall against M * (C + 0.3)."""
    repo = make_repo(work / "merge-repo", args.files)
    results = make_branches(repo, "mj", args.merges)
    asyncio.run(store_succeeded_agent_job(work / "tf.db", "mj", results))
    check = f"sleep {args.check_seconds}"
    wall_s, done = taskfleet(work, "merge", "mj", "--merge-check", check, "--json")
    if done.returncode != 0:
        raise BenchError(f"taskfleet merge exited {done.returncode}: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    if len(report["merged"]) != args.merges:
        raise BenchError(f"only {len(report['merged'])} of {args.merges} branches merged")
    budget_s = args.merges * (args.check_seconds + MERGE_OVERHEAD_BUDGET_S)
    checks_s = args.merges * args.check_seconds
    return {
        "merges": args.merges,
        "files": args.files,
        "check_s": args.check_seconds,
        "wall_s": round(wall_s, 3),
        "budget_s": round(budget_s, 3),
        "overhead_per_merge_s": round((wall_s - checks_s) / args.merges, 4),
        "meets_target": wall_s <= budget_s,
        "target_log_length": len(git(repo, "log", "--format=%H").splitlines()),
    }


# -- report ----------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    """The report for people."""
    rows = [("measurement", "wall s", "target", "ok")]
    agents = report.get("agents")
    if isinstance(agents, dict):
        rows.append(
            (
                f"{agents['tasks']} agents x {agents['agent_s']} s, -j {agents['jobs']}",
                f"{agents['wall_s']:.2f}",
                f"<= {TARGET_AGENTS_RATIO} x {agents['ideal_s']} s (x{agents['ratio']})",
                "yes" if agents["meets_target"] else "NO",
            )
        )
    merges = report.get("merges")
    if isinstance(merges, dict):
        rows.append(
            (
                f"{merges['merges']} merges, {merges['check_s']} s check",
                f"{merges['wall_s']:.2f}",
                f"<= {merges['budget_s']} s ({merges['overhead_per_merge_s']} s/merge over)",
                "yes" if merges["meets_target"] else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="files in the repository")
    parser.add_argument("--tasks", type=int, default=40, help="(agents) agent tasks")
    parser.add_argument("-j", "--jobs", type=int, default=8, help="(agents) -j")
    parser.add_argument("--agent-seconds", type=float, default=1.0, help="(agents) agent time")
    parser.add_argument("--merges", type=int, default=20, help="(merges) branches to merge")
    parser.add_argument("--check-seconds", type=float, default=0.5, help="(merges) check time")
    parser.add_argument("--only", choices=("agents", "merges"), help="run one half only")
    parser.add_argument("--json-only", action="store_true", help="no progress, no table")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print the report; exit 1 if one was invalid."""
    args = parse_args(argv)
    report: dict[str, Any] = {
        "benchmark": "taskfleet agents",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "config": {k: v for k, v in vars(args).items() if k not in ("json_only", "keep")},
    }
    with workdir(args.keep) as work:
        log(args, f"bench: working in {work}")
        try:
            if args.only != "merges":
                if agent_kind_available():
                    report["agents"] = bench_agents(args, work / "agents")
                else:
                    report["agents"] = "skipped: the agent kind is not installed"
            if args.only != "agents":
                report["merges"] = bench_merges(args, work / "merges")
        except BenchError as exc:
            report["error"] = str(exc)
            print(json.dumps(report, indent=2))
            print(f"bench: invalid: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(report, indent=2))
    if not args.json_only:
        print("\n" + table(report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
