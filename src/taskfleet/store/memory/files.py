"""Uploaded files and the llm response cache of the memory store, as SQLite's ``files.py``."""

from __future__ import annotations

import json
from typing import Any

from taskfleet.errors import FileNotFound, StoreError
from taskfleet.model import StoredFile


class FileShelf:
    """Uploaded files by id, and stored llm responses by cache key."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[StoredFile, bytes]] = {}
        self._responses: dict[str, str] = {}  # key -> JSON text

    def add(self, file: StoredFile, content: bytes) -> None:
        """Keep a file under its new id (StoreError if the id is taken)."""
        if file.file_id in self._files:
            raise StoreError(f"file '{file.file_id}' exists already")
        self._files[file.file_id] = (file, bytes(content))

    def get(self, file_id: str) -> tuple[StoredFile, bytes]:
        """A file's description and content; raises FileNotFound."""
        try:
            return self._files[file_id]
        except KeyError:
            raise FileNotFound(file_id) from None

    def newest(self, purpose: str | None, limit: int) -> list[StoredFile]:
        """Files, newest first (with that purpose)."""
        found = [f for f, _ in self._files.values() if purpose is None or f.purpose == purpose]
        found.sort(key=lambda f: (-f.created_at, f.file_id))
        return found[:limit]

    def get_response(self, key: str) -> Any:
        """The response stored under ``key``, or None."""
        text = self._responses.get(key)
        return None if text is None else json.loads(text)

    def put_response(self, key: str, response: Any) -> None:
        """Keep ``response`` under ``key``; the last one wins."""
        # Kept as JSON text: a caller mutating what it got must not change the store.
        self._responses[key] = json.dumps(response)
