"""Real git repositories in temporary directories for the agent kind's unit tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@t"]


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (with an identity for commits); its stdout."""
    done = subprocess.run(
        ["git", "-C", str(repo), *IDENTITY, *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit: README and src/app.py."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("readme\n")
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("print('app')\n")
    git(path, "add", ".")
    git(path, "commit", "-qm", "init")
    return path
