"""The reason a failed task shows: the last meaningful line of stderr, else of stdout."""

from __future__ import annotations

from typing import Any

import pytest

from taskfleet.model import Task, TaskStatus
from taskfleet.service.tasks import failed_record, failure_reason, last_meaningful_line


def _failed(error: str | None, result: Any) -> Task:
    return Task("j", 1, "t", "shell", TaskStatus.FAILED, {}, result=result, error=error)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a\nb\n", "b"),
        ("FAILED x.py::t - assert 1\n===== 1 failed in 0.1s =====\n\n", "1 failed in 0.1s"),
        ("\x1b[31mboom\x1b[0m\n----------\n   \n", "boom"),
        ("=====\n-----\n", ""),
        ("", ""),
    ],
)
def test_last_meaningful_line(text: str, line: str) -> None:
    assert last_meaningful_line(text) == line


def test_stderr_first_then_stdout_then_the_error_as_stored() -> None:
    both = {"exit_code": 1, "stdout": "out\n", "stderr": "err\n"}
    stdout_only = {"exit_code": 2, "stdout": "== 1 failed ==\n", "stderr": ""}
    silent = {"exit_code": 4, "stdout": "", "stderr": "---\n"}

    assert failure_reason(_failed("exit code 1: err", both)) == "exit code 1: err"
    assert failure_reason(_failed("exit code 2", stdout_only)) == "exit code 2: 1 failed"
    assert failure_reason(_failed("exit code 4", silent)) == "exit code 4"


def test_other_errors_are_left_as_they_are() -> None:
    output = {"stdout": "x\n", "stderr": "y\n"}
    assert failure_reason(_failed("timed out after 2s", output)) == "timed out after 2s"
    assert failure_reason(_failed("exit code 3", None)) == "exit code 3"
    assert failure_reason(_failed(None, output)) is None
    assert failed_record(_failed("exit code 2", output))["error"] == "exit code 2: y"
