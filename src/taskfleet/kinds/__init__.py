"""Task kinds, found through the ``taskfleet.kinds`` entry-point group.

A kind parses its own fields and runs one attempt (``kinds.base.Kind``).
Kinds know nothing of the store, the engine or the interfaces. May import:
``limits`` (what they share with the engine), ``config``, ``model``, ``errors``.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from taskfleet.errors import UsageError
from taskfleet.kinds.base import Kind, RunContext

__all__ = ["Kind", "RunContext", "available_kinds", "close_kinds", "get_kind"]

ENTRY_POINT_GROUP = "taskfleet.kinds"
_loaded: list[Kind] = []


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
    _loaded.append(kind)
    return kind


async def close_kinds() -> None:
    """Let every loaded kind release what it holds in this event loop, before the loop ends.

    ``taskfleet.run`` and ``map`` run a new loop per call while the kinds live
    for the whole process: connections left open would outlive their loop.
    """
    for kind in _loaded:
        close = getattr(kind, "aclose", None)
        if close is not None:
            await close()
