"""The ``fs`` kind: read, write and list files, or run a command, inside a root directory.

The root is the job's working directory (``RunContext.cwd``: the directory a
job was submitted from, or the server's ``--root``). Every path is resolved
with :func:`os.path.realpath` and must stay inside the real root: ``..``
escapes, absolute paths elsewhere and symlinks pointing out all fail with a
FatalError naming the path, before anything is read, written or run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from taskfleet.errors import FatalError, FieldError
from taskfleet.kinds.base import RunContext
from taskfleet.kinds.shell import ShellKind
from taskfleet.model import Outcome

__all__ = ["OPS", "FsKind", "resolve_inside"]

OPS = ("read", "write", "list", "command")
READ_LIMIT_BYTES = 1 << 20  # a read keeps the first MiB, with a ``truncated`` flag
_SHELL = ShellKind()


def resolve_inside(root: str, path: str) -> str:
    """The real path of ``path`` (relative to ``root``); FatalError if it leaves the root."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, path))
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise FatalError(f"path '{path}' is outside the root directory {real_root}")
    return real


def _parse_path(spec: Mapping[str, Any], op: str) -> str:
    path = spec.get("path")
    if path is None:
        if op in ("read", "write"):
            raise FieldError("path", f"is required for op '{op}'")
        return "."
    if not isinstance(path, str) or not path or "\0" in path:
        raise FieldError("path", "must be a non-empty string")
    return path


class FsKind:
    """File operations and commands confined to the job's root directory."""

    name = "fs"
    fields = frozenset({"op", "path", "content", "command"})

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``op``, ``path``, ``content`` (write) and ``command`` (command)."""
        op = spec.get("op")
        if op not in OPS:
            raise FieldError("op", f"must be one of {', '.join(OPS)}, got {op!r}")
        parsed: dict[str, Any] = {"op": op, "path": _parse_path(spec, op)}
        if op == "write":
            content = spec.get("content")
            if not isinstance(content, str):
                raise FieldError("content", "is required for op 'write' and must be a string")
            parsed["content"] = content
        if op == "command":
            parsed["command"] = _SHELL.parse({"command": spec.get("command")})["command"]
        return parsed

    async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        """Run one operation inside the root."""
        root = ctx.cwd or os.getcwd()
        path: str = spec["path"]
        target = resolve_inside(root, path)
        op = spec["op"]
        if op == "command":
            return await _SHELL.run({"command": spec["command"], "cwd": target}, ctx)
        try:
            if op == "read":
                result = await asyncio.to_thread(_read, target)
            elif op == "write":
                result = await asyncio.to_thread(_write, target, spec["content"])
            else:
                result = await asyncio.to_thread(_list, target)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
            raise FatalError(f"{op} '{path}': {exc.strerror or exc}") from None
        return Outcome.success({"path": path, **result})


def _read(target: str) -> dict[str, Any]:
    with open(target, "rb") as handle:
        data = handle.read(READ_LIMIT_BYTES + 1)
    truncated = len(data) > READ_LIMIT_BYTES
    text = data[:READ_LIMIT_BYTES].decode("utf-8", errors="replace")
    return {"content": text, "size": os.path.getsize(target), "truncated": truncated}


def _write(target: str, content: str) -> dict[str, Any]:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    data = content.encode("utf-8")
    with open(target, "wb") as handle:
        handle.write(data)
    return {"bytes": len(data)}


def _list(target: str) -> dict[str, Any]:
    entries = []
    with os.scandir(target) as scan:
        for entry in sorted(scan, key=lambda e: e.name):
            if entry.is_symlink():
                kind, size = "symlink", None
            elif entry.is_dir():
                kind, size = "dir", None
            else:
                kind = "file" if entry.is_file() else "other"
                size = entry.stat().st_size
            entries.append({"name": entry.name, "type": kind, "size": size})
    return {"entries": entries}
