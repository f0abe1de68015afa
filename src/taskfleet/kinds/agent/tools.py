"""The built-in agent's four tools, confined to one worktree (SPEC section 8).

``read_file(path)``, ``write_file(path, content)``, ``list_files(path)`` and
``run_command(command)``. A path is relative to the worktree root; absolute
paths, ``..`` and anything in ``.git`` are refused before the file system is
touched, and a path whose real location (symlinks followed) is outside the
worktree is refused too. A refusal or a failure is a message returned to the
model, which can correct itself, never an exception: the model's mistakes
must not fail the attempt.

``run_command`` runs ``/bin/sh -c`` in the worktree root, in a session (so a
process group) of its own, with a timeout. The group is killed when the
command times out, when the turn is cancelled, and also when the command
exits: a process left in the background would outlive the attempt (an
orphan) and could change the worktree after the scope check. The command is
confined by its working directory only; it is not a sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT_S",
    "TOOL_NAMES",
    "TOOL_SCHEMAS",
    "ToolRefused",
    "WorktreeTools",
    "parse_arguments",
]

DEFAULT_COMMAND_TIMEOUT_S = 60.0
OUTPUT_TAIL_BYTES = 16 * 1024  # of a command's output: the tail, which holds the error
READ_LIMIT_BYTES = 60 * 1024  # of a file read: more would flood the model's context
LIST_LIMIT = 1000  # paths listed at most
KILL_GRACE_S = 0.5  # between SIGTERM and SIGKILL of a timed-out command
_DRAIN_S = 2.0  # reading what a killed group left in the pipe
_CHUNK_BYTES = 64 * 1024
# No prompt may wait for a terminal that is not there, and no pager either.
_COMMAND_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat"}


def _function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }


_PATH = {"type": "string", "description": "relative to the repository root"}
TOOL_SCHEMAS: tuple[dict[str, Any], ...] = (
    _function("read_file", "Read a text file.", {"path": _PATH}),
    _function(
        "write_file",
        "Create or replace a whole file (parent directories are created).",
        {"path": _PATH, "content": {"type": "string", "description": "the file's full text"}},
    ),
    _function(
        "list_files",
        "List the files under a directory, recursively ('.' for the whole repository).",
        {"path": _PATH},
    ),
    _function(
        "run_command",
        "Run a shell command (/bin/sh -c) in the repository root; returns its exit code "
        "and the tail of its output (stdout and stderr together).",
        {"command": {"type": "string"}},
    ),
)
TOOL_NAMES = tuple(schema["function"]["name"] for schema in TOOL_SCHEMAS)


class ToolRefused(Exception):
    """A tool call that cannot be done; its message goes back to the model."""


def parse_arguments(raw: Any) -> dict[str, Any]:
    """A tool call's arguments: a JSON object text (OpenAI) or an object (Ollama)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise ToolRefused(f"the arguments are not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ToolRefused("the arguments must be a JSON object")
    return raw


class WorktreeTools:
    """The tools over one worktree root."""

    def __init__(
        self,
        root: Path,
        command_timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
        pid_file: Path | None = None,
    ) -> None:
        self.root = Path(os.path.realpath(root))
        self.command_timeout_s = command_timeout_s
        # Holds a running command's process group id, so that whoever cleans up
        # after a crash of ours (``resume``) can kill it: a killed runner cannot.
        self.pid_file = pid_file

    async def call(self, name: str, arguments: Any) -> str:
        """Run the tool ``name`` asks for; every refusal or failure is text for the model."""
        args: dict[str, Any] = {}
        try:
            args = parse_arguments(arguments)
            return await self._dispatch(name, args)
        except ToolRefused as exc:
            return f"error: {exc}"
        except OSError as exc:  # not found, permission, not a directory, ...
            where = args.get("path")
            return f"error: '{where}': {exc.strerror or exc}" if where else f"error: {exc}"

    async def _dispatch(self, name: str, args: Mapping[str, Any]) -> str:
        if name == "read_file":
            return await asyncio.to_thread(self.read_file, _text_arg(args, name, "path"))
        if name == "write_file":
            path, content = _text_arg(args, name, "path"), _text_arg(args, name, "content")
            return await asyncio.to_thread(self.write_file, path, content)
        if name == "list_files":
            path = args.get("path", ".")
            return await asyncio.to_thread(self.list_files, "." if path == "" else path)
        if name == "run_command":
            return await self.run_command(_text_arg(args, name, "command"))
        raise ToolRefused(f"unknown tool '{name}'; the tools are {', '.join(TOOL_NAMES)}")

    def resolve(self, path: Any) -> Path:
        """The real location of ``path`` inside the worktree; ToolRefused if it leaves it."""
        if not isinstance(path, str) or not path.strip() or "\0" in path:
            raise ToolRefused("'path' must be a non-empty string")
        pure = PurePosixPath(path)
        if pure.is_absolute():
            raise ToolRefused(f"'{path}': absolute paths are refused (give it from the root)")
        if ".." in pure.parts:
            raise ToolRefused(f"'{path}': '..' is refused; paths stay inside the repository")
        if ".git" in pure.parts:
            raise ToolRefused(f"'{path}': .git is refused; taskfleet makes the commits")
        real = Path(os.path.realpath(self.root / pure))
        try:
            inside = real.relative_to(self.root)
        except ValueError:
            raise ToolRefused(f"'{path}' leads outside the repository (a symlink)") from None
        if ".git" in inside.parts:
            raise ToolRefused(f"'{path}' leads into .git (a symlink)")
        return real

    def read_file(self, path: str) -> str:
        """The file's text, up to READ_LIMIT_BYTES."""
        target = self.resolve(path)
        if target.is_dir():
            raise ToolRefused(f"'{path}' is a directory; use list_files")
        with target.open("rb") as file:
            data = file.read(READ_LIMIT_BYTES + 1)
        try:
            text = data[:READ_LIMIT_BYTES].decode("utf-8")
        except UnicodeDecodeError:
            raise ToolRefused(f"'{path}' is not a UTF-8 text file") from None
        if len(data) > READ_LIMIT_BYTES:
            text += f"\n[... truncated: only the first {READ_LIMIT_BYTES} bytes are shown]"
        return text

    def write_file(self, path: str, content: str) -> str:
        """Create or replace the file; create its parent directories."""
        target = self.resolve(path)
        if target.is_dir():
            raise ToolRefused(f"'{path}' is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8")
        target.write_bytes(data)
        return f"wrote {len(data)} bytes to {path}"

    def list_files(self, path: str) -> str:
        """The files under ``path`` (recursively, ``.git`` left out), one a line."""
        target = self.resolve(path)
        if not target.exists():
            raise ToolRefused(f"'{path}' does not exist")
        if not target.is_dir():
            return str(target.relative_to(self.root))
        found: list[str] = []
        total = 0
        for folder, dirs, files in os.walk(target):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            # In a linked worktree (as agents get) .git is a file naming the repository's.
            for name in sorted(f for f in files if f != ".git"):
                total += 1
                if len(found) < LIST_LIMIT:
                    found.append(os.path.relpath(os.path.join(folder, name), self.root))
        if total > LIST_LIMIT:
            found.append(f"[... and {total - LIST_LIMIT} more files]")
        return "\n".join(found) if found else "(no files)"

    async def run_command(self, command: str) -> str:
        """Run the command in the worktree; its exit code and output tail, or why it stopped."""
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **_COMMAND_ENV},
        )
        if self.pid_file is not None:
            self.pid_file.write_text(f"{process.pid}\n")
        try:
            return await self._follow(process)
        finally:
            if self.pid_file is not None:
                self.pid_file.unlink(missing_ok=True)

    async def _follow(self, process: asyncio.subprocess.Process) -> str:
        """Wait for the command within its timeout, read its output; kill its group after."""
        assert process.stdout is not None
        tail = _Tail()
        reader = asyncio.create_task(tail.read(process.stdout))
        try:
            code = await asyncio.wait_for(process.wait(), self.command_timeout_s)
        except TimeoutError:
            await _kill_group(process)
            await _drain(reader)
            return f"timed out after {self.command_timeout_s:g} s (killed)\n{tail.text()}"
        except BaseException:  # cancelled: the turn or the attempt ends
            await _kill_group(process)
            reader.cancel()
            raise
        _signal_group(process.pid, signal.SIGKILL)  # what it left in the background
        await _drain(reader)
        return f"exit code {code}\n{tail.text()}"


def _text_arg(args: Mapping[str, Any], tool: str, name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise ToolRefused(f"{tool} needs '{name}' (a string)")
    return value


class _Tail:
    """The last OUTPUT_TAIL_BYTES of a stream, in bounded memory."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.cut = False

    async def read(self, stream: asyncio.StreamReader) -> None:
        """Read to EOF."""
        while chunk := await stream.read(_CHUNK_BYTES):
            self.data += chunk
            # Trim past twice the limit: one memmove per ~limit bytes, not per chunk.
            if len(self.data) > 2 * OUTPUT_TAIL_BYTES:
                del self.data[: len(self.data) - OUTPUT_TAIL_BYTES]
                self.cut = True

    def text(self) -> str:
        cut = self.cut or len(self.data) > OUTPUT_TAIL_BYTES
        prefix = "[... earlier output cut]\n" if cut else ""
        return prefix + bytes(self.data[-OUTPUT_TAIL_BYTES:]).decode("utf-8", errors="replace")


async def _drain(reader: asyncio.Task[None]) -> None:
    """Let the reader reach EOF; a process that escaped the group may hold the pipe."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(reader), _DRAIN_S)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the command's group, SIGKILL it after a grace, reap the leader."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(process.wait()), KILL_GRACE_S)
    # Also when the leader went: its children may ignore SIGTERM.
    _signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(process.wait()), KILL_GRACE_S)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
