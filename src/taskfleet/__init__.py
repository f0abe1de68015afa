"""taskfleet: run large batches of tasks in parallel without losing any.

import taskfleet
summary = taskfleet.run(tasks, concurrency=8)
results = taskfleet.map(fn, items, concurrency=8, db="runs.db")
async with taskfleet.Fleet(db="runs.db") as fleet: ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "Fleet",
    "JobFailed",
    "JobStatus",
    "Summary",
    "TaskStatus",
    "TaskfileError",
    "TaskfleetError",
    "map",
    "run",
]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from taskfleet.api import Fleet, Summary, map, run
    from taskfleet.errors import JobFailed, TaskfileError, TaskfleetError
    from taskfleet.model import JobStatus, TaskStatus

_LAZY = {
    "Fleet": "taskfleet.api",
    "Summary": "taskfleet.api",
    "map": "taskfleet.api",
    "run": "taskfleet.api",
    "JobFailed": "taskfleet.errors",
    "TaskfileError": "taskfleet.errors",
    "TaskfleetError": "taskfleet.errors",
    "JobStatus": "taskfleet.model",
    "TaskStatus": "taskfleet.model",
}


def __getattr__(name: str) -> Any:
    # Lazy: the CLI imports taskfleet.* submodules and must not pay for the engine.
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'taskfleet' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
