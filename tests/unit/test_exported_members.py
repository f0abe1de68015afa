"""The public package exports exactly its documented names (as httpx tests its own)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import taskfleet

# The Python API (docs/tasks.md "From Python") and the types its callers see:
# the states in a summary and the errors they catch.
PUBLIC_NAMES = [
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


def test_all_is_the_documented_public_names() -> None:
    assert taskfleet.__all__ == PUBLIC_NAMES


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_each_public_name_is_importable_from_taskfleet(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from taskfleet import {name}", namespace)
    member = namespace[name]
    assert member is getattr(taskfleet, name)
    assert member.__module__.startswith("taskfleet")


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Runner'"):
        _ = taskfleet.Runner


def test_importing_taskfleet_loads_neither_the_api_nor_the_engine() -> None:
    # The names are lazy: the CLI imports taskfleet.* and must not pay for the engine.
    code = "import sys, taskfleet; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    heavy = ("taskfleet.api", "taskfleet.service", "taskfleet.engine", "taskfleet.store")
    assert [name for name in loaded if name.startswith(heavy)] == []
