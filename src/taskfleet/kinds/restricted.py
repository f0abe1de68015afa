"""Kinds for a server that must not run commands (``serve --no-shell``).

A lookup to hand to ``parse_tasks`` in place of ``get_kind``: shell and
python tasks (a python task can name any callable, ``os:system`` included)
and fs ``command`` operations are rejected as bad input, so the whole batch
is refused before anything is stored; every other kind is the registered one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskfleet.errors import FieldError, UsageError
from taskfleet.kinds import Kind, RunContext, get_kind
from taskfleet.model import Outcome

__all__ = ["COMMAND_KINDS", "kinds_without_commands"]

# Kinds that run arbitrary commands or code (an agent runs its check and its CLI).
COMMAND_KINDS = frozenset({"shell", "python", "agent"})
_REASON = "turned off on this server (--no-shell)"


class _FsWithoutCommands:
    """The fs kind minus its ``command`` operation."""

    name = "fs"

    def __init__(self, inner: Kind) -> None:
        self._inner = inner
        self.fields = getattr(inner, "fields", None)

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The fs kind's checks, and no ``command`` op."""
        if spec.get("op") == "command":
            raise FieldError("op", f"fs command operations are {_REASON}")
        return self._inner.parse(spec)

    async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        """Run as the fs kind does."""
        return await self._inner.run(spec, ctx)


def kinds_without_commands(name: str) -> Kind:
    """The kind registered as ``name``, unless it runs commands (UsageError)."""
    if name in COMMAND_KINDS:
        raise UsageError(f"{name} tasks are {_REASON}")
    kind = get_kind(name)
    return _FsWithoutCommands(kind) if name == "fs" else kind
