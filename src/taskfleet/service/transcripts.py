"""An agent task's transcript, as the dashboard and the API show it.

The agent kind writes every message, tool call, check and review of a task
to ``<repo>/.taskfleet/transcripts/<job>/<task>.jsonl`` and names that file
in the task's result. Only a file under that folder of the result's own
repository is read: a result is data, and data must not name any file.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

from taskfleet.errors import TaskNotFound
from taskfleet.store.base import Store

__all__ = ["TRANSCRIPT_ENTRIES", "task_transcript"]

TRANSCRIPT_ENTRIES = 500  # the newest entries shown; the file keeps them all


async def task_transcript(
    store: Store, job_id: str, task_id: str, *, limit: int = TRANSCRIPT_ENTRIES
) -> dict[str, Any]:
    """``{"path", "entries", "total"}``: the newest ``limit`` entries of the task's transcript.

    TaskNotFound if the task has no transcript (not an agent task, or not run yet).
    """
    task = await store.get_task(job_id, task_id)
    path = _transcript_path(task.result)
    if path is None or not path.is_file():
        raise TaskNotFound(job_id, task_id)  # no transcript: nothing of it to show
    newest: deque[dict[str, Any]] = deque(maxlen=limit)
    total = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut by a crash mid-write
                continue
            if isinstance(entry, dict):
                newest.append(entry)
                total += 1
    return {"path": str(path), "entries": list(newest), "total": total}


def _transcript_path(result: Any) -> Path | None:
    """The transcript the result names, if it lies in its repository's transcripts folder."""
    if not isinstance(result, dict):
        return None
    named, repo = result.get("transcript"), result.get("repo")
    if not isinstance(named, str) or not isinstance(repo, str):
        return None
    folder = (Path(repo) / ".taskfleet" / "transcripts").resolve()
    path = Path(named).resolve()
    return path if path.is_relative_to(folder) else None
