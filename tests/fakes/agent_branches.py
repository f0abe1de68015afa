"""Agents' work without agents: real git repositories, task branches, and jobs that made them.

The merge point's tests build what the agent kind leaves behind (a branch
``taskfleet/<job>/<task>`` and a succeeded task whose result names it) with
git and the store directly, so they do not depend on an agent running.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from taskfleet.store.base import Store

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(repo: Path, *args: str, check: bool = True) -> str:
    """Run git in ``repo`` as user t; return its stdout (with ``check``, fail on an error)."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    assert done.returncode == 0 or not check, f"git {args}: {done.stderr}"
    return done.stdout


def make_repo(path: Path, files: Mapping[str, str]) -> Path:
    """A repository on branch main with one commit holding ``files``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet", "-b", "main")
    write_files(path, files)
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "initial")
    return path


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def make_branch(repo: Path, branch: str, files: Mapping[str, str], base: str = "main") -> str:
    """Commit ``files`` on a new ``branch`` from ``base`` (the user's checkout untouched)."""
    with tempfile.TemporaryDirectory() as scratch:
        checkout = Path(scratch) / "wt"
        git(repo, "worktree", "add", "--quiet", "-b", branch, str(checkout), base)
        write_files(checkout, files)
        git(checkout, "add", "-A")
        git(checkout, "commit", "--quiet", "-m", f"change on {branch}")
        git(repo, "worktree", "remove", "--force", str(checkout))
    return git(repo, "rev-parse", branch).strip()


@dataclass(frozen=True)
class AgentWork:
    """One agent task that succeeded with a branch of its own."""

    task_id: str
    files: Mapping[str, str]  # what its agent wrote
    check_command: str | None = None
    loops: int = 1
    max_loops: int = 5
    extra: Mapping[str, Any] = field(default_factory=dict)


async def store_agent_job(
    store: Store,
    job_id: str,
    repo: Path,
    work: Sequence[AgentWork],
    options: JobOptions | None = None,
) -> None:
    """Make each task's branch and store a completed job whose agent tasks made them."""
    base = git(repo, "rev-parse", "HEAD").strip()
    specs = []
    for seq, each in enumerate(work, start=1):
        spec: dict[str, Any] = {
            "prompt": f"write {', '.join(each.files)}",
            "max_loops": each.max_loops,
        }
        if each.check_command:
            spec["check_command"] = each.check_command
        specs.append(TaskSpec(id=each.task_id, seq=seq, kind="agent", spec=spec))
    job = Job(job_id, job_id, JobStatus.QUEUED, options or JobOptions(), 1000.0, 0)
    await store.create_job(job, specs)
    runner = RunnerInfo("builder", "host", os.getpid(), 1000.0, 1000.0, 30.0)
    await store.acquire_job(job_id, runner, [JobStatus.QUEUED])
    await store.claim_tasks(job_id, "builder", len(specs))
    updates: list[Any] = []
    for seq, each in enumerate(work, start=1):
        branch = f"taskfleet/{job_id}/{each.task_id}"
        commit = make_branch(repo, branch, each.files, base)
        result = {
            "branch": branch,
            "commit": commit,
            "base": base,
            "repo": str(repo),
            "loops": each.loops,
            "merged": False,
            **each.extra,
        }
        updates.append(AttemptStarted(seq, 1, "builder", 1001.0))
        updates.append(
            AttemptFinished(
                seq, 1, TaskStatus.SUCCEEDED, AttemptOutcome.SUCCEEDED, 1002.0, 1.0, 0, result
            )
        )
    await store.record_attempts(job_id, updates)
    await store.release_job(job_id, "builder", JobStatus.COMPLETED, 1003.0)
