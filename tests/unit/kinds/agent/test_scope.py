"""Scope matching agrees with the scheduler's overlap rule, and changed paths are all seen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from taskfleet.engine.scheduler import patterns_overlap
from taskfleet.kinds.agent.scope import changed_paths, outside_scope, path_in_scope

from .conftest import git

CASES = [
    ("src/auth", "src/auth/login.py", True),
    ("src/auth/**", "src/auth/deep/x.py", True),
    ("src/*.py", "src/app.py", True),
    ("src/*.py", "src/sub/app.py", False),
    ("**/*.md", "docs/a/b.md", True),
    ("**/*.md", "README.md", True),
    ("docs", "doc/x", False),
    ("src/auth", "src/authz/x.py", False),
    ("./src//app.py", "src/app.py", True),
    ("**", "anything/at/all", True),
]


@pytest.mark.parametrize(("pattern", "path", "inside"), CASES)
def test_a_path_is_in_scope_exactly_when_the_scheduler_sees_an_overlap(
    pattern: str, path: str, inside: bool
) -> None:
    assert path_in_scope(path, [pattern]) is inside
    # A literal path is a pattern too: the scheduler's rule must say the same.
    assert patterns_overlap(pattern, path) is inside


def test_empty_scope_allows_anything_and_outside_keeps_order() -> None:
    assert path_in_scope("x/y", [])
    assert outside_scope(["a", "src/b", "c"], ["src"]) == ["a", "c"]


async def test_changed_paths_sees_edits_additions_deletions_and_commits(repo: Path) -> None:
    start = git(repo, "rev-parse", "HEAD").strip()
    (repo / "README").write_text("changed\n")
    (repo / "new dir").mkdir()
    (repo / "new dir" / "n.txt").write_text("new\n")
    (repo / "src" / "app.py").unlink()
    (repo / "committed.txt").write_text("c\n")
    git(repo, "add", "committed.txt")
    git(repo, "commit", "-qm", "agent committed on its own")
    (repo / ".gitignore").write_text("ignored.log\n")
    (repo / "ignored.log").write_text("x\n")
    paths = await changed_paths(repo, start)
    assert paths == [".gitignore", "README", "committed.txt", "new dir/n.txt", "src/app.py"]


async def test_a_change_reverted_leaves_nothing(repo: Path) -> None:
    start = git(repo, "rev-parse", "HEAD").strip()
    subprocess.run(["touch", str(repo / "README")], check=True)
    assert await changed_paths(repo, start) == []
