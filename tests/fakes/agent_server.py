"""A live server whose root is a git repository, with a stand-in agent CLI as a profile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from server.live import LiveServer
from taskfleet.config.profiles import parse_profile
from taskfleet.config.settings import Settings

__all__ = ["STANDIN", "git", "start_agent_server"]

STANDIN = Path(__file__).resolve().parents[1] / "agents" / "standin_agent.py"


def git(repo: Path, *args: str) -> str:
    """``git -C repo args`` with an identity; its stdout."""
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def start_agent_server(tmp_path: Path) -> LiveServer:
    """A started server on ``tmp_path/root`` (a repository of one commit); profile ``standin``."""
    root = tmp_path / "root"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README").write_text("hi\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "init")
    command = f"{sys.executable} {STANDIN} {{prompt}} {{check_output}}"
    profile = parse_profile("standin", {"kind": "agent", "command": command}, "test")
    db = f"sqlite:///{tmp_path / 'store.db'}"
    settings = Settings(db=db, concurrency=2, profiles={"standin": profile})
    return LiveServer(settings, root).start()  # type: ignore[arg-type]
