"""The task's transcript: one JSON object a line, appended by every attempt."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["JsonlTranscript"]


class JsonlTranscript:
    """Appends entries to ``path`` (each with the attempt and a timestamp); a Transcript."""

    def __init__(self, path: Path, attempt: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._attempt = attempt

    def write(self, entry: Mapping[str, Any]) -> None:
        """Append one entry."""
        record = {"time": time.time(), "attempt": self._attempt, **entry}
        line = json.dumps(record, ensure_ascii=False, default=str)
        # Opened per entry: a crash loses nothing written, and entries are few.
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
