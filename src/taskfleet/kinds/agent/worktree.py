"""A git worktree per attempt, on branch ``taskfleet/<job>/<task>``, and its removal.

Layout inside the user's repository (git-ignored through
``.taskfleet/.gitignore``, so ``git status`` there stays clean)::

    .taskfleet/worktrees/<job>/<task>/        the attempt's checkout
    .taskfleet/worktrees/<job>/<task>.pid     process group of its running agent
    .taskfleet/transcripts/<job>/<task>.jsonl
    .taskfleet/feedback/<job>/<task>.md       what the merge point sent back

Only ``git worktree`` and ``git branch`` touch the repository: the user's
checkout, index, HEAD and current branch are never changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from taskfleet.errors import RetryableError
from taskfleet.kinds.agent.gitops import GitError, git, git_ok
from taskfleet.kinds.agent.process import pid_file_of

__all__ = [
    "Worktree",
    "branch_name",
    "create_worktree",
    "remove_worktree",
    "repo_lock",
    "safe_name",
    "state_dir",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_locks: dict[tuple[int, str], asyncio.Lock] = {}


def safe_name(name: str) -> str:
    """``name`` made safe as one path segment and one branch-name component."""
    cleaned = _UNSAFE.sub("-", name).strip(".-") or "task"
    return cleaned.replace("..", "-")


def branch_name(job_id: str, task_id: str) -> str:
    """The branch an agent task works on."""
    return f"taskfleet/{safe_name(job_id)}/{safe_name(task_id)}"


def state_dir(repo: Path, what: str, job_id: str) -> Path:
    """``<repo>/.taskfleet/<what>/<job>``, with ``.taskfleet`` git-ignored."""
    root = repo / ".taskfleet"
    root.mkdir(exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return root / what / safe_name(job_id)


def repo_lock(repo: Path) -> asyncio.Lock:
    """This loop's lock over ``repo``'s shared git state (worktree list, packed refs).

    Concurrent ``git worktree add`` and ``git branch -D`` in one repository
    fail on each other's lock files; attempts in one process take turns.
    """
    key = (id(asyncio.get_running_loop()), str(repo))
    lock = _locks.get(key)
    if lock is None:
        lock = _locks[key] = asyncio.Lock()
    return lock


@dataclass(frozen=True, slots=True)
class Worktree:
    """One attempt's checkout."""

    repo: Path
    path: Path
    branch: str
    base: str  # the task's recorded base commit
    start_commit: str  # where this attempt started: base, or the branch's tip on a retry
    created_branch: bool  # False: the branch was there (sent back by the merge point)

    @property
    def pid_file(self) -> Path:
        """Where the process group of the agent or command running in it is recorded."""
        return pid_file_of(self.path)


async def create_worktree(repo: Path, job_id: str, task_id: str, base: str) -> Worktree:
    """A fresh worktree for an attempt: on the task's branch if it exists, else new at ``base``."""
    path = state_dir(repo, "worktrees", job_id) / safe_name(task_id)
    branch = branch_name(job_id, task_id)
    async with repo_lock(repo):
        if path.exists():
            await _drop_checkout(repo, path)  # left by an attempt that died
        path.parent.mkdir(parents=True, exist_ok=True)
        exists = await git_ok(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        # --no-checkout: the lock guards git's worktree list and refs only; the
        # checkout (the slow part: every file of the repository) runs below, in
        # parallel with the other attempts' checkouts.
        add = ["worktree", "add", "--quiet", "--no-checkout", str(path), branch]
        if not exists:
            add = ["worktree", "add", "--quiet", "--no-checkout", "-b", branch, str(path), base]
        try:
            await git(repo, *add)
        except GitError:
            # A checkout deleted behind git's back is still registered: prune, try once more.
            await git_ok(repo, "worktree", "prune")
            try:
                await git(repo, *add)
            except GitError as exc:
                raise RetryableError(f"cannot make worktree: {exc}") from None
    await git(path, "reset", "--quiet", "--hard")  # fill the index and the files from HEAD
    start = (await git(path, "rev-parse", "HEAD")).strip()
    return Worktree(repo, path, branch, base, start, created_branch=not exists)


def copy_files(worktree: Worktree, names: Sequence[str]) -> list[str]:
    """Copy ``[agents] copy_files`` from the repository into the worktree; the ones copied."""
    copied: list[str] = []
    for name in names:
        source = worktree.repo / name
        if not source.is_file():
            continue  # e.g. no .env in this checkout: nothing to copy
        target = worktree.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append(name)
    return copied


async def _drop_checkout(repo: Path, path: Path) -> None:
    removed = await git_ok(repo, "worktree", "remove", "--force", "--force", str(path))
    if not removed and path.exists():
        shutil.rmtree(path, ignore_errors=True)
    await git_ok(repo, "worktree", "prune")


async def remove_worktree(worktree: Worktree, *, keep_checkout: bool, delete_branch: bool) -> None:
    """Remove the attempt's checkout (unless kept) and, when asked, its branch."""
    worktree.pid_file.unlink(missing_ok=True)
    if keep_checkout:
        return
    async with repo_lock(worktree.repo):
        await _drop_checkout(worktree.repo, worktree.path)
        with contextlib.suppress(OSError):  # the job's folder, once its last checkout went
            worktree.path.parent.rmdir()
        if delete_branch:
            await git_ok(worktree.repo, "branch", "-D", "--quiet", worktree.branch)
