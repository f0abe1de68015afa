"""A stand-in coding agent CLI: does what its prompt says, one instruction a line.

Usage: ``standin_agent.py PROMPT [FEEDBACK]`` in the directory to change.

    write PATH TEXT         write TEXT (and a newline) to PATH, making folders
    append PATH TEXT        append TEXT and a newline to PATH
    delete PATH             delete PATH
    log PATH TEXT           append "TEXT <unix time>" to PATH (absolute: outside the worktree)
    sleep SECONDS           sleep, printing nothing
    fixed PATH TEXT         only when FEEDBACK is non-empty: write TEXT to PATH
    hang PIDFILE            start a silent child, write both pids to PIDFILE, sleep forever
    fail                    exit 3
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def _write(path: str, text: str, mode: str = "w") -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open(mode) as handle:
        handle.write(text + "\n")


def _hang(pid_file: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(pid_file).write_text(f"{os.getpid()}\n{child.pid}\n")
    time.sleep(600)


def main(prompt: str, feedback: str) -> int:
    """Carry out each instruction of ``prompt``; the exit code."""
    for line in prompt.splitlines():
        word, _, rest = line.strip().partition(" ")
        path, _, text = rest.partition(" ")
        if word == "write":
            _write(path, text)
        elif word == "append":
            _write(path, text, "a")
        elif word == "delete":
            Path(path).unlink()
        elif word == "log":
            _write(path, f"{text} {time.time()}", "a")
        elif word == "sleep":
            time.sleep(float(path))
        elif word == "fixed" and feedback:
            _write(path, text)
        elif word == "hang":
            _hang(path)
        elif word == "fail":
            return 3
        print(f"did: {line.strip()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""))
