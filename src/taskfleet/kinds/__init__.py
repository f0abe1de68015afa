"""Task kinds, found through the ``taskfleet.kinds`` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from taskfleet.errors import UsageError
from taskfleet.kinds.base import Kind, RunContext

__all__ = ["Kind", "RunContext", "available_kinds", "get_kind"]

ENTRY_POINT_GROUP = "taskfleet.kinds"


@cache
def _registry() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_kinds() -> list[str]:
    """Names of every registered kind."""
    return sorted(_registry())


@cache
def get_kind(name: str) -> Kind:
    """The kind registered as ``name``; raises UsageError if there is none."""
    entry = _registry().get(name)
    if entry is None:
        raise UsageError(f"unknown kind '{name}' (known: {', '.join(available_kinds())})")
    kind_class = entry.load()  # type: ignore[attr-defined]
    kind: Kind = kind_class()
    return kind
