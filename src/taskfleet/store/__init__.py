"""Stores: the durable truth behind every job. See ``store.base.Store``.

``base`` is the protocol the engine and the services depend on; ``common``
what the SQL backends share; ``memory``, ``sqlite`` and ``postgres`` one
package per backend, imported only by ``open_store`` when asked for. May
import: ``model``, ``errors``; SQL lives here and nowhere else.
"""

from __future__ import annotations

from taskfleet.store.base import Store

__all__ = ["Store", "open_store"]


def open_store(url: str) -> Store:
    """A store for ``url``: ``sqlite:///path``, a bare path, ``memory://`` or ``postgresql://``.

    The store is not opened yet: ``await store.open()``.
    """
    from taskfleet.errors import UsageError

    if url.startswith("memory:"):
        from taskfleet.store.memory.store import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres_store(url)
    if url.startswith("postgresql+") and "://" in url:
        # SQLAlchemy-style postgresql+psycopg://: the driver is always psycopg here.
        return _postgres_store("postgresql://" + url.split("://", 1)[1])
    from taskfleet.store.sqlite.store import SqliteStore

    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    if url.startswith("sqlite://") and not url.startswith("sqlite:///"):
        raise UsageError(f"bad store URL '{url}': use sqlite:///path/to/file.db")
    return SqliteStore(path)


def _postgres_store(url: str) -> Store:
    """The PostgreSQL store; psycopg is imported only now, so the CLI starts fast without it."""
    from taskfleet.errors import UsageError

    try:
        from taskfleet.store.postgres.store import PostgresStore
    except ImportError as exc:
        raise UsageError(
            "the PostgreSQL store needs psycopg: pip install 'taskfleet[postgres]'"
        ) from exc
    return PostgresStore(url)
