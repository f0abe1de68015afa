"""Module-level functions for the Python API tests (importable by reference)."""

from __future__ import annotations

import asyncio
import collections
import time


def triple_plus_one(x: int) -> int:
    return 3 * x + 1


def slow_square(x: int) -> int:
    # later items end first, so input order and finishing order differ
    time.sleep(0.02 * (5 - x % 5))
    return x * x


async def async_describe(name: str, *, greeting: str = "hello") -> dict[str, str]:
    await asyncio.sleep(0.01)
    return {"text": f"{greeting} {name}"}


def fail_on_two(x: int) -> int:
    if x == 2:
        raise ValueError("two is not allowed")
    return x


CALLS: collections.Counter[int] = collections.Counter()


def fails_first_time_on_two(x: int) -> int:
    """Counts its calls; fails the first call with 2."""
    CALLS[x] += 1
    if x == 2 and CALLS[x] == 1:
        raise RuntimeError("first call with two")
    return -x
