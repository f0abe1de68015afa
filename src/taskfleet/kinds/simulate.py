"""The ``simulate`` kind: waits, fails on demand and returns canned output.

For demos, benchmarks and tests. Random failures are drawn from a hash of the
task id and the attempt number, so the same task fails the same way in every
job and every run.
"""

from __future__ import annotations

import asyncio
import math
import zlib
from collections.abc import Mapping
from typing import Any

from taskfleet.errors import FieldError
from taskfleet.kinds.base import RunContext
from taskfleet.model import Outcome

__all__ = ["SimulateKind", "failure_draw"]

_HASH_SCALE = 1.0 / 2**32


def failure_draw(task_id: str, attempt: int) -> float:
    """A repeatable number in [0, 1) for this task and attempt."""
    digest = zlib.crc32(f"{task_id}:{attempt}".encode())
    # CRC is linear: ids that differ in one character give related values
    # (with ids "1".."1000", crc < 2**31 for exactly half of them). The
    # MurmurHash3 finaliser mixes the bits so the draws look independent.
    digest ^= digest >> 16
    digest = (digest * 0x85EBCA6B) & 0xFFFFFFFF
    digest ^= digest >> 13
    digest = (digest * 0xC2B2AE35) & 0xFFFFFFFF
    digest ^= digest >> 16
    return digest * _HASH_SCALE


class SimulateKind:
    """Sleeps ``duration`` seconds; fails the first ``fail_times`` attempts
    and a ``fail_rate`` share of the others."""

    name = "simulate"
    fields = frozenset({"duration", "fail_rate", "fail_times", "output"})

    def parse(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``duration``, ``fail_rate``, ``fail_times`` and ``output``."""
        duration = _number(spec, "duration", 0.0)
        if duration < 0:
            raise FieldError("duration", "must be >= 0")
        fail_rate = _number(spec, "fail_rate", 0.0)
        if not 0 <= fail_rate <= 1:
            raise FieldError("fail_rate", "must be between 0 and 1")
        fail_times = spec.get("fail_times", 0)
        if isinstance(fail_times, bool) or not isinstance(fail_times, int) or fail_times < 0:
            raise FieldError("fail_times", "must be an integer >= 0")
        parsed: dict[str, Any] = {
            "duration": duration,
            "fail_rate": fail_rate,
            "fail_times": fail_times,
        }
        if "output" in spec:  # null is a valid output, hence not .get()
            parsed["output"] = spec["output"]
        return parsed

    async def run(self, spec: Mapping[str, Any], ctx: RunContext) -> Outcome:
        """One simulated attempt; a zero duration never yields to the loop."""
        attempt = ctx.attempt
        fail_times = spec.get("fail_times", 0)
        if attempt <= fail_times:
            return Outcome.failure(
                f"simulated failure (attempt {attempt} of fail_times {fail_times})"
            )
        fail_rate = spec.get("fail_rate", 0)
        if fail_rate > 0 and failure_draw(ctx.task_id, attempt) < fail_rate:
            return Outcome.failure("simulated random failure")
        duration = spec.get("duration", 0)
        if duration > 0:
            await asyncio.sleep(duration)
        if "output" in spec:
            return Outcome.success(spec["output"])
        return Outcome.success({"duration": duration})


def _number(spec: Mapping[str, Any], field: str, default: float) -> float:
    value = spec.get(field, default)
    # bool is an int subclass, but `true` is not a number in a task file.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(field, "must be a number")
    if not math.isfinite(value):
        raise FieldError(field, "must be a finite number")
    return float(value)
