"""Stores: the durable truth behind every job. See ``store.base.Store``."""

from __future__ import annotations

from taskfleet.store.base import Store

__all__ = ["Store", "open_store"]


def open_store(url: str) -> Store:
    """A store for ``url``: ``sqlite:///path``, a bare path, ``memory://`` or ``postgresql://``.

    The store is not opened yet: ``await store.open()``.
    """
    from taskfleet.errors import UsageError

    if url.startswith("memory:"):
        from taskfleet.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://")):
        raise UsageError("the PostgreSQL store is not available in this version")
    from taskfleet.store.sqlite import SqliteStore

    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    if url.startswith("sqlite://") and not url.startswith("sqlite:///"):
        raise UsageError(f"bad store URL '{url}': use sqlite:///path/to/file.db")
    return SqliteStore(path)
