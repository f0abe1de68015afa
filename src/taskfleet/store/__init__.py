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
    """A store for a normalised URL: ``sqlite:///path``, ``memory://`` or ``postgresql://``.

    Entry points normalise what users write first (``config.db_url``); any
    other form is refused here. The store is not opened yet: ``await store.open()``.
    """
    from taskfleet.errors import UsageError

    if url.startswith("memory://"):
        from taskfleet.store.memory.store import MemoryStore

        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres_store(url)
    if url.startswith("postgresql+") and "://" in url:
        # SQLAlchemy-style postgresql+psycopg://: the driver is always psycopg here.
        return _postgres_store("postgresql://" + url.split("://", 1)[1])
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        from taskfleet.store.sqlite.store import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///"))
    raise UsageError(
        f"bad store URL '{url}': expected sqlite:///PATH, memory:// or postgresql://..."
    )


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
