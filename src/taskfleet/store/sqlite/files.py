"""Uploaded files and the llm response cache of the SQLite store.

Each function runs inside a transaction (or read) the caller opened.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from taskfleet.errors import FileNotFound
from taskfleet.model import StoredFile
from taskfleet.store.common.rows import encode_json

_INSERT_FILE = (
    "INSERT INTO files (file_id, purpose, filename, bytes, created_at, content) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_SELECT_FILES = "SELECT file_id, purpose, filename, bytes, created_at FROM files"
_PUT_RESPONSE = "INSERT OR REPLACE INTO response_cache (key, response, created_at) VALUES (?, ?, ?)"


def insert_file(conn: sqlite3.Connection, file: StoredFile, content: bytes) -> None:
    """Store an uploaded file under its new id."""
    row = (file.file_id, file.purpose, file.filename, file.bytes, file.created_at, content)
    conn.execute(_INSERT_FILE, row)


def select_file(conn: sqlite3.Connection, file_id: str) -> StoredFile:
    """A file's description; raises FileNotFound."""
    row = conn.execute(f"{_SELECT_FILES} WHERE file_id = ?", (file_id,)).fetchone()
    if row is None:
        raise FileNotFound(file_id)
    return StoredFile(*row)


def select_content(conn: sqlite3.Connection, file_id: str) -> bytes:
    """A file's content; raises FileNotFound."""
    row = conn.execute("SELECT content FROM files WHERE file_id = ?", (file_id,)).fetchone()
    if row is None:
        raise FileNotFound(file_id)
    return bytes(row[0])


def select_files(conn: sqlite3.Connection, purpose: str | None, limit: int) -> list[StoredFile]:
    """Files, newest first (with that purpose)."""
    where, params = ("", ()) if purpose is None else ("WHERE purpose = ?", (purpose,))
    rows = conn.execute(
        f"{_SELECT_FILES} {where} ORDER BY created_at DESC, file_id LIMIT ?", (*params, limit)
    ).fetchall()
    return [StoredFile(*row) for row in rows]


def get_response(conn: sqlite3.Connection, key: str) -> Any:
    """The response stored under ``key``, or None."""
    row = conn.execute("SELECT response FROM response_cache WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def put_response(conn: sqlite3.Connection, key: str, response: Any, now: float) -> None:
    """Store ``response`` under ``key`` (the last one wins)."""
    conn.execute(_PUT_RESPONSE, (key, encode_json(response), now))
