"""Small pieces of the server, without a server."""

from __future__ import annotations

import pytest

from taskfleet.cli.serve_command import is_loopback
from taskfleet.server.routes_batch import command_for, concurrency_for


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.4", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_command_for_substitutes_or_appends_the_quoted_path() -> None:
    assert command_for("ruff check", "a b.py") == "ruff check 'a b.py'"
    assert command_for("pytest {path} -q", "t.py") == "pytest t.py -q"
    assert command_for("cat {path}", "x; rm -rf /") == "cat 'x; rm -rf /'"


def test_concurrency_for_parallel() -> None:
    assert concurrency_for(True) is None
    assert concurrency_for(False) == 1
    assert concurrency_for(6) == 6
    assert concurrency_for(0) == 1
