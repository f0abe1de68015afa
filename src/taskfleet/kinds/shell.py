"""The ``shell`` kind: run a command, keep the tail of its output.

Each command runs in a session of its own (``start_new_session``), so the
command and every process it starts share one process group that we can kill
as a whole when the attempt is cancelled, and a Ctrl-C in the terminal reaches
only taskfleet, which decides what happens to running tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from taskfleet.errors import FieldError
from taskfleet.kinds.base import OutputListener, RunContext
from taskfleet.kinds.output_lines import LineSplitter
from taskfleet.model import ErrorClass, Outcome

__all__ = ["KILL_GRACE_S", "OUTPUT_TAIL_BYTES", "SHELL", "ShellKind"]

OUTPUT_TAIL_BYTES = 64 * 1024  # kept per stream: the tail, which holds the error
KILL_GRACE_S = 0.5  # between SIGTERM and SIGKILL of a cancelled command
SHELL = "/bin/sh"
_READ_CHUNK_BYTES = 256 * 1024
_REAP_TIMEOUT_S = 5.0  # after SIGKILL; only a process stuck in the kernel takes longer

# Spawn errors that retrying cannot fix; others (EAGAIN from fork) may pass.
_FATAL_SPAWN_ERRORS = (FileNotFoundError, PermissionError, NotADirectoryError, ValueError)


class _TailBuffer:
    """Keeps the last ``limit`` bytes written to it, in bounded memory."""

    __slots__ = ("_data", "_dropped", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data = bytearray()
        self._dropped = False

    def write(self, chunk: bytes) -> None:
        data = self._data
        data += chunk
        # Trim only past twice the limit: a chatty command then costs one
        # memmove per ~limit bytes rather than one per chunk.
        if len(data) > 2 * self.limit:
            del data[: len(data) - self.limit]
            self._dropped = True

    @property
    def truncated(self) -> bool:
        return self._dropped or len(self._data) > self.limit

    def text(self) -> str:
        """The tail as text; a UTF-8 sequence cut at the start is dropped."""
        if not self.truncated:
            return self._data.decode("utf-8", errors="replace")
        tail = memoryview(self._data)[-self.limit :]
        start = 0
        while start < 3 and start < len(tail) and tail[start] & 0xC0 == 0x80:
            start += 1
        return bytes(tail[start:]).decode("utf-8", errors="replace")


class _Child:
    """A running command whose output and exit the event loop watches.

    The exit is watched through a pidfd where the OS has one: asyncio's own
    subprocess support in Python 3.11 starts a waiter thread per process,
    which is most of the cost of a short command. Without pidfds the exit is
    polled with a growing interval.
    """

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        loop: asyncio.AbstractEventLoop,
        stdin: bytes | None,
        on_output: OutputListener | None = None,
    ) -> None:
        self.proc = proc
        self.stdout = _TailBuffer(OUTPUT_TAIL_BYTES)
        self.stderr = _TailBuffer(OUTPUT_TAIL_BYTES)
        self._lines: dict[int, LineSplitter] = {}
        self._loop = loop
        self._exited: asyncio.Future[None] = loop.create_future()
        # Exited AND both pipes at EOF (a background process may hold them).
        self._finished: asyncio.Future[None] = loop.create_future()
        self._readers: set[int] = set()
        self._pidfd: int | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stdin_left = memoryview(stdin or b"")
        for stream, buffer in ((proc.stdout, self.stdout), (proc.stderr, self.stderr)):
            assert stream is not None
            fd = stream.fileno()
            if on_output is not None:
                name = "stdout" if buffer is self.stdout else "stderr"
                self._lines[fd] = LineSplitter(on_output, name)
            os.set_blocking(fd, False)
            loop.add_reader(fd, self._on_readable, fd, buffer)
            self._readers.add(fd)
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            loop.add_writer(proc.stdin.fileno(), self._on_writable)
        self._watch_exit()

    async def wait(self) -> int:
        """The exit code, once the command exited and its output is read."""
        # Shielded: a cancelled run must not cancel _finished, which
        # kill_group still waits on.
        await asyncio.shield(self._finished)
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def kill_group(self) -> None:
        """SIGTERM the process group, SIGKILL it after a grace, reap the leader.

        A further cancellation while this runs only cuts the grace short: the
        caller re-raises its own CancelledError once the group is dead.
        """
        pgid = self.proc.pid  # the leader of its own session: pid == pgid
        _signal_group(pgid, signal.SIGTERM)
        # The group gets its grace while it still holds our pipes, so a
        # background process may clean up after its leader exited.
        await _wait_quietly(self._finished, KILL_GRACE_S)
        # Also when the leader went: descendants that ignore SIGTERM may
        # remain (the group id is not reused while one of them lives).
        _signal_group(pgid, signal.SIGKILL)
        deadline = time.monotonic() + _REAP_TIMEOUT_S
        while not self._exited.done() and time.monotonic() < deadline:
            await _wait_quietly(self._exited, deadline - time.monotonic())

    def close(self) -> None:
        """Stop watching and close our ends of the pipes; idempotent."""
        for fd in self._readers:
            self._loop.remove_reader(fd)
        self._readers.clear()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                if stream is self.proc.stdin and not stream.closed:
                    self._loop.remove_writer(stream.fileno())
                stream.close()
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poller is not None:
            self._poller.cancel()
        if self.proc.poll() is None:  # stuck in the kernel, or killing was cut short
            _reap_later(self._loop, self.proc, 0.01)

    def _watch_exit(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):  # not Linux >= 5.3, or seccomp said no
            self._poller = self._loop.create_task(self._poll_exit())
            return
        self._loop.add_reader(self._pidfd, self._on_pidfd_readable)

    def _on_pidfd_readable(self) -> None:
        if self.proc.poll() is not None and self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            self._set_exited()

    async def _poll_exit(self) -> None:
        delay_s = 0.001
        while self.proc.poll() is None:
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 0.05)
        self._set_exited()

    def _set_exited(self) -> None:
        if not self._exited.done():
            self._exited.set_result(None)
        self._check_finished()

    def _check_finished(self) -> None:
        if not self._readers and self._exited.done() and not self._finished.done():
            self._finished.set_result(None)

    def _on_readable(self, fd: int, buffer: _TailBuffer) -> None:
        try:
            chunk = os.read(fd, _READ_CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        lines = self._lines.get(fd)
        if chunk:
            buffer.write(chunk)
            if lines is not None:
                lines.feed(chunk)
            return
        if lines is not None:
            lines.flush()
        self._loop.remove_reader(fd)
        self._readers.discard(fd)
        self._check_finished()

    def _on_writable(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            written = os.write(stdin.fileno(), self._stdin_left[:_READ_CHUNK_BYTES])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EPIPE: the command exited without reading it all
            written = len(self._stdin_left)
        self._stdin_left = self._stdin_left[written:]
        if not self._stdin_left:
            self._loop.remove_writer(stdin.fileno())
            stdin.close()  # EOF for the command


class ShellKind:
    """Runs a command with ``/bin/sh -c`` (a string) or as argv (a list)."""

    name = "shell"
    fields = frozenset({"command", "cwd", "env", "stdin"})

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``command``, ``cwd``, ``env`` and ``stdin``."""
        parsed: dict[str, Any] = {"command": _parse_command(spec.get("command"))}
        cwd = spec.get("cwd")
        if cwd is not None:
            if not isinstance(cwd, str) or not cwd:
                raise FieldError("cwd", "must be a non-empty string")
            parsed["cwd"] = cwd
        env = spec.get("env")
        if env is not None:
            parsed["env"] = _parse_env(env)
        stdin = spec.get("stdin")
        if stdin is not None:
            if not isinstance(stdin, str):
                raise FieldError("stdin", "must be a string")
            parsed["stdin"] = stdin
        return parsed

    async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        """Run the command once; on cancellation kill its process group."""
        stdin_text: str | None = spec.get("stdin")
        started = time.monotonic()
        try:
            proc = _spawn(spec, ctx, pipe_stdin=stdin_text is not None)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in argv, cwd or env
            return _spawn_failure(exc)
        stdin = None if stdin_text is None else stdin_text.encode()
        child = _Child(proc, asyncio.get_running_loop(), stdin, ctx.on_output)
        try:
            try:
                code = await child.wait()
            except asyncio.CancelledError:
                await child.kill_group()
                raise
            return _outcome(code, child, time.monotonic() - started)
        finally:
            child.close()


def _parse_command(command: object) -> str | list[str]:
    if command is None:
        raise FieldError("command", "is required")
    if isinstance(command, str):
        if not command.strip():
            raise FieldError("command", "must not be empty")
        return command
    if isinstance(command, list):
        if not command:
            raise FieldError("command", "must not be an empty list")
        if not all(isinstance(arg, str) for arg in command):
            raise FieldError("command", "a list command must hold only strings")
        if not command[0]:
            raise FieldError("command", "the program name must not be empty")
        return list(command)
    raise FieldError("command", "must be a string or a list of strings")


def _parse_env(env: object) -> dict[str, str]:
    if not isinstance(env, Mapping):
        raise FieldError("env", "must be an object of names to strings")
    parsed: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str) or not key or "=" in key:
            raise FieldError("env", f"invalid variable name {key!r}")
        # bool is an int subclass, but "True" is never what a user meant.
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FieldError("env", f"value of {key!r} must be a string or a number")
        parsed[key] = str(value)
    return parsed


def _working_dir(spec_cwd: str | None, ctx: RunContext) -> str | None:
    if spec_cwd is None:
        return ctx.cwd
    if ctx.cwd is not None and not os.path.isabs(spec_cwd):
        return os.path.join(ctx.cwd, spec_cwd)
    return spec_cwd


def _spawn(spec: Mapping[str, Any], ctx: RunContext, pipe_stdin: bool) -> subprocess.Popen[bytes]:
    command = spec["command"]
    argv = [SHELL, "-c", command] if isinstance(command, str) else list(command)
    spec_env: Mapping[str, str] | None = spec.get("env")
    # env=None inherits ours without copying os.environ for every task.
    env = {**os.environ, **spec_env} if spec_env else None
    # Popen blocks only until the exec (vfork), as asyncio's subprocess does.
    return subprocess.Popen(
        argv,
        bufsize=0,
        stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=_working_dir(spec.get("cwd"), ctx),
        env=env,
        start_new_session=True,
    )


async def _wait_quietly(future: asyncio.Future[None], timeout_s: float) -> None:
    """Wait for ``future`` up to ``timeout_s``; a timeout or a cancel ends the wait."""
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(future), timeout_s)


def _reap_later(
    loop: asyncio.AbstractEventLoop, proc: subprocess.Popen[bytes], delay_s: float
) -> None:
    # The group has had its SIGKILL; poll for the leader so it does not stay
    # a zombie. Past ~10 s, Popen.__del__ hands it to subprocess's cleanup.
    if proc.poll() is None and delay_s < 10:
        loop.call_later(delay_s, _reap_later, loop, proc, delay_s * 2)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _spawn_failure(exc: OSError | ValueError) -> Outcome:
    error_class = ErrorClass.FATAL if isinstance(exc, _FATAL_SPAWN_ERRORS) else ErrorClass.RETRYABLE
    return Outcome.failure(f"cannot start command: {exc}", error_class=error_class)


def _outcome(code: int, child: _Child, duration_s: float) -> Outcome:
    stderr = child.stderr.text()
    result = {
        "exit_code": code,
        "stdout": child.stdout.text(),
        "stderr": stderr,
        "truncated": child.stdout.truncated or child.stderr.truncated,
        "duration": duration_s,
    }
    if code == 0:
        return Outcome.success(result)
    if code < 0:
        return Outcome.failure(f"killed by signal {_signal_name(-code)}", result=result)
    error = f"exit code {code}"
    last_line = _last_line(stderr)
    if last_line:
        error = f"{error}: {last_line}"
    return Outcome.failure(error, result=result)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _last_line(text: str, max_chars: int = 500) -> str:
    stripped = text.rstrip()
    if not stripped:
        return ""
    return stripped.rsplit("\n", 1)[-1].strip()[:max_chars]
