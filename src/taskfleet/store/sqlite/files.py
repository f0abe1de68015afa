"""Uploaded files and the llm response cache of the SQLite store.

Each function runs inside a transaction (or read) the caller opened.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from taskfleet.errors import FileNotFound
from taskfleet.model import StoredFile
from taskfleet.store.common.queries import load_queries
from taskfleet.store.common.rows import encode_json

_QUERIES = load_queries("taskfleet.store.sqlite")
_INSERT_FILE = _QUERIES["insert_file"]
_GET_FILE = _QUERIES["get_file"]
_FILE_CONTENT = _QUERIES["file_content"]
_LIST_FILES = _QUERIES["list_files"]
_LIST_FILES_WITH_PURPOSE = _QUERIES["list_files_with_purpose"]
_GET_CACHED_RESPONSE = _QUERIES["get_cached_response"]
_PUT_CACHED_RESPONSE = _QUERIES["put_cached_response"]


def insert_file(conn: sqlite3.Connection, file: StoredFile, content: bytes) -> None:
    """Store an uploaded file under its new id."""
    row = (file.file_id, file.purpose, file.filename, file.bytes, file.created_at, content)
    conn.execute(_INSERT_FILE, row)


def select_file(conn: sqlite3.Connection, file_id: str) -> StoredFile:
    """A file's description; raises FileNotFound."""
    row = conn.execute(_GET_FILE, (file_id,)).fetchone()
    if row is None:
        raise FileNotFound(file_id)
    return StoredFile(*row)


def select_content(conn: sqlite3.Connection, file_id: str) -> bytes:
    """A file's content; raises FileNotFound."""
    row = conn.execute(_FILE_CONTENT, (file_id,)).fetchone()
    if row is None:
        raise FileNotFound(file_id)
    return bytes(row[0])


def select_files(conn: sqlite3.Connection, purpose: str | None, limit: int) -> list[StoredFile]:
    """Files, newest first (with that purpose)."""
    if purpose is None:
        rows = conn.execute(_LIST_FILES, (limit,)).fetchall()
    else:
        rows = conn.execute(_LIST_FILES_WITH_PURPOSE, (purpose, limit)).fetchall()
    return [StoredFile(*row) for row in rows]


def get_response(conn: sqlite3.Connection, key: str) -> Any:
    """The response stored under ``key``, or None."""
    row = conn.execute(_GET_CACHED_RESPONSE, (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def put_response(conn: sqlite3.Connection, key: str, response: Any, now: float) -> None:
    """Store ``response`` under ``key`` (the last one wins)."""
    conn.execute(_PUT_CACHED_RESPONSE, (key, encode_json(response), now))
