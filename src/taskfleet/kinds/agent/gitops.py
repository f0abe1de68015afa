"""Git driven through subprocesses: async for attempts, sync for resolving a job's base.

Every call is ``git -C <dir> ...`` with an argument list (never a shell
string holding user data) and ``GIT_TERMINAL_PROMPT=0``, so a git that wants
a password fails instead of waiting on a terminal nobody watches.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from taskfleet.errors import FieldError, TaskfleetError

__all__ = [
    "FALLBACK_IDENTITY",
    "GitError",
    "git",
    "git_env",
    "git_ok",
    "resolve_repo_and_base",
    "run_git",
]

# Used for taskfleet's commits only when the repository names nobody.
FALLBACK_IDENTITY = ("-c", "user.name=taskfleet", "-c", "user.email=taskfleet@localhost")


class GitError(TaskfleetError):
    """A git command failed; the message holds its stderr."""


def git_env() -> Mapping[str, str]:
    """The environment of every git call: this one, with no prompt for a password."""
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


async def run_git(directory: Path | str, args: tuple[str, ...]) -> tuple[int, str, str]:
    """``git -C directory args``: (exit code, stdout, stderr), whatever the exit code."""
    proc = await asyncio.create_subprocess_exec(
        "git",
        "-C",
        str(directory),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=git_env(),
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


async def git(directory: Path | str, *args: str) -> str:
    """The stdout of ``git -C directory args``; GitError when it exits non-zero."""
    code, out, err = await run_git(directory, args)
    if code != 0:
        raise GitError(f"git {' '.join(args[:2])} failed: {err.strip() or out.strip()}")
    return out


async def git_ok(directory: Path | str, *args: str) -> bool:
    """Whether ``git -C directory args`` exits 0 (its output is dropped)."""
    code, _out, _err = await run_git(directory, args)
    return code == 0


def _git_sync(directory: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", directory, *args],
            capture_output=True,
            text=True,
            env=git_env(),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError:  # no git at all
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def resolve_repo_and_base(repo: str | None, base: str | None, default_dir: str) -> tuple[str, str]:
    """(the repository's top directory, the commit ``base`` names); FieldError when unusable.

    ``repo`` relative to ``default_dir`` (None: ``default_dir`` itself);
    ``base`` None: the repository's ``HEAD`` now, so a resume starts from the
    same commit whatever the user checked out meanwhile.
    """
    where = default_dir if repo is None else os.path.join(default_dir, os.path.expanduser(repo))
    field = "repo"
    if not os.path.isdir(where):
        raise FieldError(field, f"no such directory: {where}")
    top = _git_sync(where, "rev-parse", "--show-toplevel")
    if top is None:
        raise FieldError(field, f"not a git repository: {where}")
    wanted = base or "HEAD"
    commit = _git_sync(top, "rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}")
    if commit is None:
        what = "the repository has no commit yet" if base is None else f"unknown commit {base!r}"
        raise FieldError("base", f"{what} (in {top})")
    return top, commit
