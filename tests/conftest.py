"""Fixtures for every test directory: a PostgreSQL server for the session (``tests/pg.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pg import PostgresServer, find_bin_dir


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server, started once per session; skips if none is installed."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): "
            "apt-get install postgresql to run the PostgreSQL variants"
        )
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return pg_server.create_database()
