"""Uploaded files of the PostgreSQL store (the Batch API's ``/v1/files``).

Each function runs on a connection inside a transaction the store opened.
"""

from __future__ import annotations

from taskfleet.errors import FileNotFound
from taskfleet.model import StoredFile
from taskfleet.store.common.queries import load_queries
from taskfleet.store.postgres.schema import Connection

_QUERIES = load_queries("taskfleet.store.postgres")
_INSERT_FILE = _QUERIES["insert_file"]
_GET_FILE = _QUERIES["get_file"]
_GET_FILE_CONTENT = _QUERIES["get_file_content"]
_LIST_FILES = _QUERIES["list_files"]


async def insert_file(conn: Connection, file: StoredFile, content: bytes) -> None:
    """Store an uploaded file under its new id."""
    row = (file.file_id, file.purpose, file.filename, file.bytes, file.created_at, content)
    await conn.execute(_INSERT_FILE, row)


async def select_file(conn: Connection, file_id: str) -> StoredFile:
    """A file's description; raises FileNotFound."""
    cursor = await conn.execute(_GET_FILE, (file_id,))
    row = await cursor.fetchone()
    if row is None:
        raise FileNotFound(file_id)
    return StoredFile(*row)


async def select_content(conn: Connection, file_id: str) -> bytes:
    """A file's content; raises FileNotFound."""
    cursor = await conn.execute(_GET_FILE_CONTENT, (file_id,))
    row = await cursor.fetchone()
    if row is None:
        raise FileNotFound(file_id)
    return bytes(row[0])


async def select_files(conn: Connection, purpose: str | None, limit: int) -> list[StoredFile]:
    """Files, newest first (with that purpose)."""
    cursor = await conn.execute(_LIST_FILES, {"purpose": purpose, "limit": limit})
    return [StoredFile(*row) for row in await cursor.fetchall()]
