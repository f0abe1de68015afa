"""Commands of an attempt (setup, check, an external agent) in process groups of their own.

Each command runs with ``/bin/sh -c`` in a new session, so it and whatever
it starts share one process group, killed as a whole when the attempt is
cancelled (timeout, Ctrl-C) or when it prints nothing for ``idle_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "OUTPUT_TAIL_CHARS",
    "CommandResult",
    "IdleTimeout",
    "kill_group",
    "pid_file_of",
    "run_command",
]

OUTPUT_TAIL_CHARS = 8000  # of a check's output: fed back to the agent and kept in the result
KILL_GRACE_S = 0.5  # between SIGTERM and SIGKILL
_READ_BYTES = 64 * 1024


class IdleTimeout(Exception):
    """The command printed nothing for its idle timeout; its group was killed."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    exit_code: int
    output: str  # the tail of stdout and stderr together


def pid_file_of(checkout: Path) -> Path:
    """Where the process group of what runs in ``checkout`` is recorded (beside it)."""
    return checkout.with_name(checkout.name + ".pid")


def kill_group(pgid: int, signum: signal.Signals = signal.SIGKILL) -> None:
    """Signal a whole process group; a group already gone is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    kill_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), KILL_GRACE_S)
    # Also when the leader went: a child that ignored SIGTERM keeps the group alive.
    kill_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(asyncio.CancelledError):
        await proc.wait()


async def run_command(
    command: str,
    cwd: Path,
    *,
    idle_timeout_s: float | None = None,
    on_output: Callable[[str], None] | None = None,
    pid_file: Path | None = None,
) -> CommandResult:
    """Run ``command`` in ``cwd`` to its end; raise IdleTimeout after a silence that long.

    ``on_output`` sees each chunk of output as it comes (the transcript);
    ``pid_file`` holds the process group id while it runs, so that a resume
    after a crash of ours can kill the orphan. Cancelling kills the group and
    re-raises.
    """
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        command,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    if pid_file is not None:
        pid_file.write_text(f"{proc.pid}\n")
    try:
        return await _follow(proc, idle_timeout_s, on_output)
    finally:
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)


async def _follow(
    proc: asyncio.subprocess.Process,
    idle_timeout_s: float | None,
    on_output: Callable[[str], None] | None,
) -> CommandResult:
    """Read the command's output to its end and wait for it; kill its group when told to stop."""
    assert proc.stdout is not None
    tail = ""
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(proc.stdout.read(_READ_BYTES), idle_timeout_s)
            except TimeoutError:
                await _terminate(proc)
                raise IdleTimeout(f"printed nothing for {idle_timeout_s:g}s") from None
            if not chunk:
                break
            text = chunk.decode("utf-8", "replace")
            if on_output is not None:
                on_output(text)
            tail = (tail + text)[-OUTPUT_TAIL_CHARS:]
        code = await proc.wait()
    except asyncio.CancelledError:
        await _terminate(proc)
        raise
    # The leader is done; descendants it left behind in its group go with it.
    kill_group(proc.pid)
    return CommandResult(code, tail)
