"""The SQLite store's connection and schema migrations (the row layout is in ``rows``).

Migrations are ``store/sqlite/migrations/v<N>.sql`` scripts applied in order inside
one ``BEGIN IMMEDIATE`` transaction; ``schema_version`` records the ones
applied, so two processes opening a new file at once cannot both create it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from taskfleet.errors import StoreError, UsageError
from taskfleet.store.common.queries import load_queries

_QUERIES = load_queries("taskfleet.store.sqlite")
_LIST_TABLES = _QUERIES["list_tables"]
_CREATE_SCHEMA_VERSION = _QUERIES["create_schema_version"]
_SCHEMA_VERSION = _QUERIES["schema_version"]
_RECORD_SCHEMA_VERSION = _QUERIES["record_schema_version"]
_CREATE_DEPENDENCY_STAGING = _QUERIES["create_dependency_staging"]
_CREATE_REOPEN_SELECTION = _QUERIES["create_reopen_selection"]

# Index i holds the script that brings the schema to version i + 1.
MIGRATIONS: tuple[str, ...] = (
    "v1.sql",
    "v2.sql",
    "v3.sql",
    "v4.sql",
    "v5.sql",
    "v6.sql",
    "v7.sql",
)
SCHEMA_VERSION = len(MIGRATIONS)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into StoreError; taskfleet's own errors pass unchanged."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite store failed: {exc}") from exc


def connect(path: str) -> sqlite3.Connection:
    """Open ``path`` (creating parent directories) and bring its schema up to date."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    with translate_errors():
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            _configure(conn, path)
            _migrate(conn, path)
        except BaseException:
            conn.close()
            raise
    return conn


def _configure(conn: sqlite3.Connection, path: str) -> None:
    try:
        # Other processes (``taskfleet status``) read while a runner writes:
        # WAL lets them, and busy_timeout makes writers queue instead of failing.
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise UsageError(f"'{path}' is not a taskfleet database") from exc
        raise
    # NORMAL in WAL mode loses at most the last commits on power loss, never
    # consistency; FULL would fsync every group commit.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute(_CREATE_DEPENDENCY_STAGING)
    conn.execute(_CREATE_REOPEN_SELECTION)


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _current_version(conn, path)
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"'{path}' has schema version {version}; this taskfleet knows up to "
                f"{SCHEMA_VERSION}: upgrade taskfleet"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            from importlib import resources  # only when a migration runs: it costs ~10 ms

            script = resources.files("taskfleet.store.sqlite").joinpath(
                "migrations", MIGRATIONS[number - 1]
            )
            for statement in split_statements(script.read_text(encoding="utf-8")):
                conn.execute(statement)
            conn.execute(_RECORD_SCHEMA_VERSION, (number,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _current_version(conn: sqlite3.Connection, path: str) -> int:
    tables = {row[0] for row in conn.execute(_LIST_TABLES)}
    if "schema_version" not in tables:
        if tables:
            raise UsageError(f"'{path}' is an SQLite file but not a taskfleet database")
        conn.execute(_CREATE_SCHEMA_VERSION)
        return 0
    row = conn.execute(_SCHEMA_VERSION).fetchone()
    return int(row[0] or 0)


def split_statements(script: str) -> Iterator[str]:
    """The statements of an SQL script (``executescript`` would commit midway)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    leftover = [line for line in buffer.splitlines() if not line.strip().startswith("--")]
    if any(line.strip() for line in leftover):
        raise StoreError(f"incomplete SQL statement in migration: {buffer.strip()[:80]}")
