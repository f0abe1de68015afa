"""A transcript kept in memory (``kinds.agent.turns.Transcript``), for the agent tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ListTranscript"]


class ListTranscript:
    """Keeps every entry, as the JSONL file would (each one must be JSON-serialisable)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def write(self, entry: Mapping[str, Any]) -> None:
        """Append one entry; a copy through JSON, as a file would keep it."""
        self.entries.append(json.loads(json.dumps(entry)))

    def types(self) -> list[str]:
        """The entries' types, in order."""
        return [str(entry["type"]) for entry in self.entries]
