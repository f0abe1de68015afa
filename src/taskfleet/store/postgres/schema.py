"""The PostgreSQL store's connection, schema migrations and error translation.

Migrations are ``store/postgres/migrations/v<N>.sql`` scripts applied in order in
one transaction that holds an advisory lock, so any number of processes may
open a new database at once: the first creates the schema, the others wait
and find it done. ``schema_version`` records the versions applied.

Rows have the SQLite store's column layout, so both share its encoders and
decoders (``rows.job_row``, ``task_from_row``...).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import TypeAlias

import psycopg
from psycopg.rows import TupleRow

from taskfleet.errors import StoreError, UsageError
from taskfleet.store.common.queries import load_queries

Connection: TypeAlias = psycopg.AsyncConnection[TupleRow]

_QUERIES = load_queries("taskfleet.store.postgres")
_LOCK_MIGRATIONS = _QUERIES["lock_migrations"]
_SCHEMA_VERSION_EXISTS = _QUERIES["schema_version_exists"]
_FOREIGN_TABLES_EXIST = _QUERIES["foreign_tables_exist"]
_CREATE_SCHEMA_VERSION = _QUERIES["create_schema_version"]
_CURRENT_SCHEMA_VERSION = _QUERIES["current_schema_version"]
_RECORD_SCHEMA_VERSION = _QUERIES["record_schema_version"]
_CREATE_DEP_STAGING = _QUERIES["create_dep_staging"]

# Index i holds the script that brings the schema to version i + 1.
MIGRATIONS: tuple[str, ...] = ("v1.sql", "v2.sql", "v3.sql", "v4.sql")
SCHEMA_VERSION = len(MIGRATIONS)

# Advisory locks are keyed (namespace, key); taskfleet's namespaces are arbitrary
# constants unlikely to meet another application's.
MIGRATION_LOCK = (0x7A5F1EE7, 0)
JOB_LOCK_NAMESPACE = 0x7A5F1EE8


@contextmanager
def translate_errors(what: str = "PostgreSQL store failed") -> Iterator[None]:
    """Turn driver errors into StoreError; taskfleet's own errors pass unchanged."""
    try:
        yield
    except psycopg.Error as exc:
        raise StoreError(f"{what}: {exc}") from exc


async def connect(url: str) -> Connection:
    """Connect to ``url`` and bring its schema up to date."""
    with translate_errors(f"cannot open the PostgreSQL store {redact(url)}"):
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        with translate_errors():
            await _migrate(conn, redact(url))
            await conn.execute(_CREATE_DEP_STAGING)
    except BaseException:
        await conn.close()
        raise
    return conn


async def _migrate(conn: Connection, where: str) -> None:
    async with conn.transaction():
        await conn.execute(_LOCK_MIGRATIONS, MIGRATION_LOCK)
        version = await _current_version(conn, where)
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"{where} has schema version {version}; this taskfleet knows up to "
                f"{SCHEMA_VERSION}: upgrade taskfleet"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            script = resources.files("taskfleet.store.postgres").joinpath(
                "migrations", MIGRATIONS[number - 1]
            )
            # No parameters: psycopg sends the script as one simple query, every statement in it.
            await conn.execute(script.read_text(encoding="utf-8").encode())
            await conn.execute(_RECORD_SCHEMA_VERSION, (number,))


async def _current_version(conn: Connection, where: str) -> int:
    cursor = await conn.execute(_SCHEMA_VERSION_EXISTS)
    exists = await cursor.fetchone()
    if exists is None or not exists[0]:
        cursor = await conn.execute(_FOREIGN_TABLES_EXIST)
        foreign = await cursor.fetchone()
        if foreign is not None and foreign[0]:
            raise UsageError(f"{where} has tables of another application: not a taskfleet database")
        await conn.execute(_CREATE_SCHEMA_VERSION)
        return 0
    cursor = await conn.execute(_CURRENT_SCHEMA_VERSION)
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}" if user else f"{scheme}://{host}"
