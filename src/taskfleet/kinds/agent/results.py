"""After the last turn: the commit on the task's branch and the diff stat against the base."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from taskfleet.kinds.agent.gitops import FALLBACK_IDENTITY, git, git_ok
from taskfleet.kinds.agent.worktree import Worktree

__all__ = ["DiffStat", "commit_changes", "commit_message", "diff_stat", "stage_changes"]


@dataclass(frozen=True, slots=True)
class DiffStat:
    files_changed: int
    insertions: int
    deletions: int


def commit_message(task_id: str, description: str, prompt: str) -> str:
    """``<task id>: <description or first line of prompt>``."""
    lines = prompt.strip().splitlines()
    title = description.strip() or (lines[0] if lines else "")
    return f"{task_id}: {title}"


async def _identity(worktree: Worktree) -> tuple[str, ...]:
    named = await git_ok(worktree.path, "config", "user.name")
    mailed = await git_ok(worktree.path, "config", "user.email")
    return () if named and mailed else FALLBACK_IDENTITY


async def stage_changes(checkout: Path, leave_out: Sequence[str]) -> None:
    """Stage every change in ``checkout`` but ``leave_out`` (what copy_files and setup made)."""
    await git(checkout, "add", "-A")
    if leave_out:
        await git(checkout, "--literal-pathspecs", "reset", "--quiet", "--", *leave_out)


async def commit_changes(worktree: Worktree, message: str, leave_out: Sequence[str] = ()) -> str:
    """Commit everything the agent changed on the branch; the branch's tip (new or not)."""
    await stage_changes(worktree.path, leave_out)
    if not await git_ok(worktree.path, "diff", "--cached", "--quiet"):
        identity = await _identity(worktree)
        # --no-verify: the task's check_command is the check; a hook of the
        # user's checkout may need tools the worktree lacks.
        await git(worktree.path, *identity, "commit", "--quiet", "--no-verify", "-m", message)
    return (await git(worktree.path, "rev-parse", "HEAD")).strip()


async def diff_stat(worktree: Worktree, commit: str) -> DiffStat:
    """Files, inserted and deleted lines from the task's base to ``commit``."""
    numstat = await git(worktree.path, "diff", "--numstat", "--no-renames", worktree.base, commit)
    files = insertions = deletions = 0
    for line in numstat.splitlines():
        added, removed, _path = line.split("\t", 2)
        files += 1
        insertions += int(added) if added.isdigit() else 0  # "-" for a binary file
        deletions += int(removed) if removed.isdigit() else 0
    return DiffStat(files, insertions, deletions)
