"""A real server for every test: uvicorn on a free loopback port, a fresh SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .live import LiveServer

__all__ = ["LiveServer", "ServerFactory"]

ServerFactory = Callable[..., LiveServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Starts servers on a fresh store in tmp_path; stops them after the test."""
    started: list[LiveServer] = []
    root = tmp_path / "root"
    root.mkdir()

    def start(**options: Any) -> LiveServer:
        db = f"sqlite:///{tmp_path / 'store.db'}"
        server = LiveServer(db, root, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: ServerFactory) -> LiveServer:
    """A server with its worker, no token."""
    return start_server()
