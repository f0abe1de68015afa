"""Fixtures of the service tests: an open in-memory store and settings without a config file."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from taskfleet.config.profiles import Profile
from taskfleet.config.settings import Settings
from taskfleet.store.memory.store import MemoryStore


@pytest_asyncio.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore()
    await memory.open()
    yield memory
    await memory.close()


@pytest.fixture
def settings() -> Settings:
    """Settings as a config file gives them: two profiles, a resource, an endpoint."""
    return Settings(
        db="memory://",
        concurrency=6,
        retries=3,
        retry_delay=0.0,
        timeout=9.0,
        lease=12.5,
        profiles={
            "build": Profile("build", kind="simulate", concurrency=2),
            "free": Profile("free", kind="simulate"),
        },
        resources={"gpu": 1},
        endpoints={"default": {"base_url": "http://127.0.0.1:1", "max_concurrency": 4}},
    )
