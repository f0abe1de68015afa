"""Scopes enforced: the paths a turn changed, and which of them fall outside the task's scope.

A scope pattern means here what it means to the scheduler
(``engine/scheduler.py``, which decides that overlapping scopes never run
together): ``/``-separated segments, each an ``fnmatch`` glob, ``**`` for any
number of segments, and a pattern that runs out covers everything below what
it matched (``src/auth`` covers ``src/auth/login.py``). A unit test holds the
two in agreement (kinds may not import the engine).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from taskfleet.kinds.agent.gitops import git

__all__ = ["changed_paths", "outside_scope", "path_in_scope"]


def _segments(text: str) -> tuple[str, ...]:
    parts = text.replace("\\", "/").split("/")
    return tuple(part for part in parts if part not in ("", "."))


@lru_cache(maxsize=4096)
def _matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if not pattern:
        return True  # the pattern ran out: everything below what it matched
    if pattern[0] == "**":
        return _matches(pattern[1:], path) or (bool(path) and _matches(pattern, path[1:]))
    if not path:
        return False
    return fnmatch.fnmatchcase(path[0], pattern[0]) and _matches(pattern[1:], path[1:])


def path_in_scope(path: str, scope: Sequence[str]) -> bool:
    """Whether ``path`` (relative to the repository root) is inside ``scope`` (empty: anything)."""
    if not scope:
        return True
    segments = _segments(path)
    return any(_matches(_segments(pattern), segments) for pattern in scope)


def outside_scope(paths: Sequence[str], scope: Sequence[str]) -> list[str]:
    """The paths of ``paths`` outside ``scope``, in order."""
    return [path for path in paths if not path_in_scope(path, scope)]


async def changed_paths(worktree: Path, start_commit: str) -> list[str]:
    """Every path changed, added or deleted in ``worktree`` since ``start_commit``, sorted.

    Both what is committed since (an agent may commit on its own) and what is
    not (``git status``, untracked files included). Ignored files are left
    out: they are never committed, and ``copy_files`` and ``setup_command``
    put them there (``.env``, installed dependencies).
    """
    committed = await git(worktree, "diff", "--name-only", "-z", "--no-renames", start_commit)
    status = await git(
        worktree,
        "status",
        "--porcelain",
        "-z",
        "--untracked-files=all",
        "--no-renames",
    )
    paths = {name for name in committed.split("\0") if name}
    for entry in status.split("\0"):
        if len(entry) > 3:
            paths.add(entry[3:])
    return sorted(paths)
