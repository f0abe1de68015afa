"""What attempts that died left behind: their agents' processes, worktrees and branches.

``resume`` and ``retry`` call :func:`prune_job` before a job runs again, when
none of its tasks is running: every checkout under
``.taskfleet/worktrees/<job>/`` is a leftover, and so is the branch of every
task not kept (a succeeded task's branch waits for the merge point; a branch
the merge point sent back holds work to continue).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Collection
from pathlib import Path

from taskfleet.kinds.agent.gitops import git, git_ok
from taskfleet.kinds.agent.process import kill_group
from taskfleet.kinds.agent.worktree import branch_name, repo_lock, safe_name, state_dir

__all__ = ["kill_recorded_agent", "prune_job", "tasks_sent_back"]


def kill_recorded_agent(pid_file: Path) -> None:
    """Kill the process group recorded in ``pid_file`` if it still runs in that worktree."""
    try:
        pgid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    checkout = pid_file.with_suffix("")
    # The pid may have been reused since: only a process whose working
    # directory is inside the checkout is ours.
    with contextlib.suppress(OSError):
        cwd = os.readlink(f"/proc/{pgid}/cwd")
        if not (cwd == str(checkout) or cwd.startswith(f"{checkout}/")):
            pid_file.unlink(missing_ok=True)
            return
    kill_group(pgid)
    pid_file.unlink(missing_ok=True)


def tasks_sent_back(repo: Path, job_id: str) -> set[str]:
    """Safe names of the tasks with a merge point's feedback file waiting for them."""
    folder = state_dir(repo, "feedback", job_id)
    return {path.stem for path in folder.glob("*.md")} if folder.is_dir() else set()


async def prune_job(repo: Path, job_id: str, keep_branches_of: Collection[str]) -> list[str]:
    """Remove the job's leftover worktrees and the branches of tasks not in ``keep_branches_of``.

    Returns what was removed (for the log). Call only while no attempt of the job runs.
    """
    removed: list[str] = []
    root = state_dir(repo, "worktrees", job_id)
    async with repo_lock(repo):
        if root.is_dir():
            for pid_file in root.glob("*.pid"):
                kill_recorded_agent(pid_file)
            for checkout in sorted(p for p in root.iterdir() if p.is_dir()):
                if not await git_ok(
                    repo, "worktree", "remove", "--force", "--force", str(checkout)
                ):
                    shutil.rmtree(checkout, ignore_errors=True)
                removed.append(str(checkout))
        await git_ok(repo, "worktree", "prune")
        prefix = f"refs/heads/taskfleet/{safe_name(job_id)}/"
        refs = await git(repo, "for-each-ref", "--format=%(refname)", prefix)
        kept = {f"refs/heads/{branch_name(job_id, task)}" for task in keep_branches_of}
        for ref in refs.split():
            if ref not in kept:
                await git_ok(repo, "branch", "-D", "--quiet", ref.removeprefix("refs/heads/"))
                removed.append(ref.removeprefix("refs/heads/"))
    return removed
