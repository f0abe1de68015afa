"""Importable functions for the python kind's tests (also from pool workers)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any

from taskfleet.errors import FatalError, RateLimited, RetryableError


def add(a: int, b: int = 0) -> int:
    return a + b


async def async_add(a: int, b: int = 0) -> int:
    await asyncio.sleep(0)
    return a + b


def returns_coroutine(a: int, b: int) -> Coroutine[Any, Any, int]:
    """A sync function whose result must still be awaited."""
    return async_add(a, b)


def boom(message: str = "boom") -> None:
    raise ValueError(message)


def not_serialisable() -> object:
    return {"when": object()}


def not_a_number() -> float:
    return float("nan")


def raise_fatal() -> None:
    raise FatalError("bad request", result={"status": 400})


def raise_rate_limited(retry_after_s: float = 7.0) -> None:
    raise RateLimited("slow down", retry_after_s=retry_after_s)


def raise_retryable() -> None:
    raise RetryableError("try again")


def current_thread_id() -> int:
    return threading.get_ident()


def current_pid() -> int:
    return os.getpid()


def sum_of_squares(n: int) -> int:
    """CPU-bound: meant for the process executor."""
    return sum(i * i for i in range(n))


def wait_for_event(event: threading.Event) -> str:
    """Blocks its thread until the test sets ``event``."""
    event.wait(30)
    return "released"


class Calculator:
    factor = 3

    @staticmethod
    def multiply(a: int, b: int) -> int:
        return a * b

    @classmethod
    def scale(cls, value: int) -> int:
        return value * cls.factor


NOT_CALLABLE = 42


def exits() -> None:
    raise SystemExit(3)
