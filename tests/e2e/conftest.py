"""Fixtures of the end-to-end tests: the ``taskfleet`` command in a fresh directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """Runs ``python -m taskfleet`` with cwd=tmp_path and no TASKFLEET_* variables."""
    runner = Cli(tmp_path)
    try:
        yield runner
    finally:
        runner.cleanup()
