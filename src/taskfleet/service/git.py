"""Git for the merge point: subprocesses through asyncio, never a shell string.

Every call is ``git -C <dir> ...`` with ``GIT_TERMINAL_PROMPT=0`` (a push that
needs a password fails instead of waiting for one). Commits are made as
``taskfleet`` when the repository has no identity of its own.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from taskfleet.errors import TaskfleetError, UsageError
from taskfleet.kinds.agent.gitops import FALLBACK_IDENTITY, git_env, run_git
from taskfleet.kinds.agent.worktree import safe_name

__all__ = [
    "CHECK_OUTPUT_TAIL_CHARS",
    "CheckRun",
    "GitCommandFailed",
    "GitRun",
    "MergeTarget",
    "Squash",
    "TargetNotClean",
    "advance_target",
    "branch_at_submit",
    "bring_target_into_branch",
    "checked_out_branch",
    "checkout_state",
    "commit_identity",
    "ensure_state_dir",
    "git",
    "open_merge_worktree",
    "push_target",
    "refuse_dirty_target",
    "remove_merge_worktree",
    "run_check",
    "squash_onto_target",
    "times_sent_back",
    "write_feedback",
]

CHECK_OUTPUT_TAIL_CHARS = 8000  # what a failing check hands back to its agent
SENT_BACK_MARK = "sent back by the merge point"  # in the message of the target's merge


class GitCommandFailed(TaskfleetError):
    """A git command the merge point needs failed (not a conflict: those go back to agents)."""


class TargetNotClean(UsageError):
    """The target branch is checked out with uncommitted changes: the merge touches nothing."""

    def __init__(self, repo: Path, branch: str, paths: Sequence[str]) -> None:
        self.repo = repo
        self.branch = branch
        self.paths = list(paths)
        shown = ", ".join(self.paths[:20]) + (" ..." if len(self.paths) > 20 else "")
        super().__init__(
            f"merge refused: branch '{branch}' is checked out in {repo} with uncommitted "
            f"changes ({shown}); commit or stash them, then run `taskfleet merge` again"
        )


@dataclass(frozen=True, slots=True)
class GitRun:
    """What one git command returned."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True, slots=True)
class CheckRun:
    """A merge check's exit code and the tail of its output (stdout and stderr together)."""

    exit_code: int
    output: str

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


async def git(directory: Path, *args: str, check: bool = True) -> GitRun:
    """Run ``git -C directory args``; with ``check``, raise GitCommandFailed on a non-zero exit."""
    run = GitRun(*await run_git(directory, args))
    if check and not run.ok:
        said = run.stderr.strip() or run.stdout.strip()
        raise GitCommandFailed(f"git {' '.join(args)} failed in {directory}: {said}")
    return run


async def commit_identity(repo: Path) -> tuple[str, ...]:
    """``-c`` options naming taskfleet as the committer when ``repo`` has no identity."""
    has_email = await git(repo, "config", "user.email", check=False)
    has_name = await git(repo, "config", "user.name", check=False)
    return () if has_email.ok and has_name.ok else FALLBACK_IDENTITY


async def checked_out_branch(repo: Path) -> str | None:
    """The branch checked out in ``repo``'s main checkout, or None when HEAD is detached."""
    run = await git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return (run.stdout.strip() or None) if run.ok else None


async def checkout_state(repo: Path) -> tuple[str | None, list[str]]:
    """(the branch checked out in ``repo``, None when detached; its uncommitted paths).

    One ``git status`` answers both: the merge point asks before every
    fast-forward of the user's checkout, so it is worth one process less.
    """
    run = await git(repo, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all")
    branch: str | None = None
    paths: list[str] = []
    entries = iter(run.stdout.split("\0"))
    for entry in entries:
        if entry.startswith("# branch.head "):
            head = entry.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif entry[:2] in ("1 ", "u "):
            paths.append(entry.split(" ", 8 if entry[0] == "1" else 10)[-1])
        elif entry.startswith("2 "):
            paths.append(entry.split(" ", 9)[-1])
            next(entries, None)  # a rename's second path (where it came from)
        elif entry[:2] in ("? ", "! "):
            paths.append(entry[2:])
    return branch, paths


def branch_at_submit(directory: str) -> str | None:
    """The branch checked out in the repository around ``directory`` now (None: none, detached).

    Synchronous: it runs once when a job is submitted, where the target of
    ``--merge`` defaults to the branch checked out then.
    """
    try:
        done = subprocess.run(
            ["git", "-C", directory, "symbolic-ref", "--quiet", "--short", "HEAD"],
            capture_output=True,
            text=True,
            env=dict(git_env()),
            check=False,
        )
    except OSError:
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


async def run_check(worktree: Path, command: str) -> CheckRun:
    """Run the merge check (``/bin/sh -c command``) in ``worktree``; keep its output's tail."""
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        command,
        cwd=str(worktree),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    text = out.decode(errors="replace")
    return CheckRun(process.returncode, text[-CHECK_OUTPUT_TAIL_CHARS:])


# -- the merge point's steps on one target -------------------------------------


@dataclass(slots=True)
class MergeTarget:
    """A branch being merged into, its tip, and the temporary worktree the merges happen in."""

    repo: Path
    branch: str
    tip: str  # moves forward with every merge
    identity: tuple[str, ...] = ()
    worktree: Path | None = None

    @classmethod
    async def of(cls, repo: Path, branch: str) -> MergeTarget:
        """The target ``branch`` of ``repo``; UsageError when there is no such branch."""
        ref = f"refs/heads/{branch}"
        run = await git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if not run.ok:
            raise UsageError(f"no branch '{branch}' to merge into in {repo}")
        return cls(repo, branch, run.stdout.strip(), await commit_identity(repo))

    @property
    def checkout(self) -> Path:
        """The temporary worktree (open_merge_worktree made it)."""
        assert self.worktree is not None, "open_merge_worktree first"
        return self.worktree


@dataclass(frozen=True, slots=True)
class Squash:
    """A branch's change laid onto the target: its commit, or the files that conflicted."""

    conflicts: list[str]
    commit: str | None  # the target's tip itself when the branch brings nothing new


def ensure_state_dir(repo: Path) -> None:
    """``<repo>/.taskfleet``, git-ignored, so the user's ``git status`` stays clean."""
    root = repo / ".taskfleet"
    root.mkdir(exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")


async def refuse_dirty_target(target: MergeTarget) -> None:
    """Raise TargetNotClean when ``target`` is checked out with uncommitted changes."""
    await _target_checked_out(target)


async def _target_checked_out(target: MergeTarget) -> bool:
    """Whether the user's checkout has the target; TargetNotClean when it has it dirty."""
    branch, paths = await checkout_state(target.repo)
    if branch != target.branch:
        return False
    # taskfleet's own state (the default store, worktrees) is not the user's change.
    paths = [p for p in paths if not p.startswith(".taskfleet/")]
    if paths:
        raise TargetNotClean(target.repo, target.branch, paths)
    return True


async def open_merge_worktree(target: MergeTarget, job_id: str) -> None:
    """Make (once) or reset the detached worktree at the target's tip that merges happen in."""
    if target.worktree is not None:
        await git(target.worktree, "checkout", "--quiet", "--force", "--detach", target.tip)
        await git(target.worktree, "clean", "-ffdq")
        return
    ensure_state_dir(target.repo)
    path = target.repo / ".taskfleet" / "merge" / safe_name(job_id)
    await _drop_worktree(target.repo, path)  # left by a merge that died
    path.parent.mkdir(parents=True, exist_ok=True)
    await git(target.repo, "worktree", "add", "--quiet", "--detach", str(path), target.tip)
    target.worktree = path


async def remove_merge_worktree(target: MergeTarget) -> None:
    """Remove the temporary worktree, if one was made."""
    if target.worktree is not None:
        await _drop_worktree(target.repo, target.worktree)
        target.worktree = None


async def _drop_worktree(repo: Path, path: Path) -> None:
    if path.exists():
        args = ("worktree", "remove", "--force", "--force", str(path))
        if not (await git(repo, *args, check=False)).ok:
            shutil.rmtree(path, ignore_errors=True)
    await git(repo, "worktree", "prune", check=False)


async def squash_onto_target(target: MergeTarget, branch: str, message: str) -> Squash:
    """Lay ``branch``'s change onto the target's tip as one commit named ``message``.

    A squash rather than a replay of each commit: a branch sent back once
    holds a merge of the target (with the agent's conflict resolution), which
    a commit-by-commit rebase would drop and conflict on again.
    """
    checkout = target.checkout
    run = await git(checkout, "merge", "--squash", "--quiet", branch, check=False)
    if not run.ok:
        unmerged = await git(checkout, "diff", "--name-only", "--diff-filter=U", "-z")
        conflicts = sorted(path for path in unmerged.stdout.split("\0") if path)
        await git(checkout, "reset", "--quiet", "--hard", target.tip)
        if not conflicts:
            raise GitCommandFailed(f"git merge --squash {branch} failed: {run.stderr.strip()}")
        return Squash(conflicts, None)
    if (await git(checkout, "diff", "--cached", "--quiet", check=False)).ok:
        return Squash([], target.tip)  # the target has the change already
    await git(checkout, *target.identity, "commit", "--quiet", "--no-verify", "-m", message)
    head = await git(checkout, "rev-parse", "HEAD")
    return Squash([], head.stdout.strip())


async def advance_target(target: MergeTarget, commit: str) -> str:
    """Move the target to ``commit`` by fast-forward; the user's checkout only when clean."""
    if commit != target.tip:
        # Asked again before each merge: the user may have edited or switched since.
        if await _target_checked_out(target):
            await git(target.repo, "merge", "--quiet", "--ff-only", commit)
        else:
            # Compare-and-set: a target moved by someone else meanwhile is left alone.
            ref = f"refs/heads/{target.branch}"
            await git(target.repo, "update-ref", "-m", "taskfleet merge", ref, commit, target.tip)
        target.tip = commit
    return commit


async def bring_target_into_branch(target: MergeTarget, branch: str) -> None:
    """Merge the target into a task's branch, conflict markers committed, for its agent to fix.

    The branch gets a commit either way (an empty one when it holds the target
    already): its message records the send-back, which ``times_sent_back`` counts.
    A branch checked out elsewhere (a worktree kept with --keep-worktrees) is left as it is.
    """
    checkout = target.checkout
    await git(checkout, "clean", "-ffdq")  # what the check left must not block the checkout
    if not (await git(checkout, "checkout", "--quiet", "--force", branch, check=False)).ok:
        return
    message = f"Merge {target.branch} into {branch} ({SENT_BACK_MARK})"
    commit = (*target.identity, "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message)
    try:
        merge = ("merge", "--quiet", "--no-ff", "--no-commit", target.tip)
        if not (await git(checkout, *target.identity, *merge, check=False)).ok:
            await git(checkout, "add", "-A")  # the conflicts, markers and all
        await git(checkout, *commit)
    finally:
        await git(checkout, "checkout", "--quiet", "--force", "--detach", target.tip)


async def times_sent_back(target: MergeTarget, branch: str) -> int:
    """How often the merge point sent ``branch`` back: the commits it made there say so."""
    run = await git(target.repo, "rev-list", "--count", f"--grep={SENT_BACK_MARK}", branch)
    return int(run.stdout.strip() or 0)


def write_feedback(target: MergeTarget, job_id: str, task_id: str, text: str) -> Path:
    """Write what the agent reads first on its next attempt (the agent kind deletes it)."""
    path = target.repo / ".taskfleet" / "feedback" / safe_name(job_id) / f"{safe_name(task_id)}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


async def push_target(target: MergeTarget) -> str:
    """Push the target to its upstream (else ``origin``); return ``"<remote> <branch>"``."""
    key = f"branch.{target.branch}"
    remote_run = await git(target.repo, "config", "--get", f"{key}.remote", check=False)
    merge_run = await git(target.repo, "config", "--get", f"{key}.merge", check=False)
    remote = remote_run.stdout.strip() or "origin"
    destination = merge_run.stdout.strip() or f"refs/heads/{target.branch}"
    await git(target.repo, "push", "--quiet", remote, f"refs/heads/{target.branch}:{destination}")
    return f"{remote} {target.branch}"
