"""Keyed concurrency slots: the job's global limit plus per-profile and per-resource ones.

Requests- and tokens-per-minute limiters and adaptive concurrency (AIMD) for
endpoints are in ``rate_limits``; the ``llm`` kind's gate applies them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from taskfleet.model import JobOptions, Task


def slot_keys_for(task: Task, options: JobOptions) -> tuple[str, ...]:
    """The keyed limits a task holds while it runs."""
    keys: list[str] = []
    if task.profile is not None and task.profile in options.profile_limits:
        keys.append(f"profile:{task.profile}")
    keys.extend(f"resource:{name}" for name in task.resources)
    return tuple(keys)


class SlotPool:
    """Counts slots in use per key against each key's limit."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self._limits = dict(limits)
        self._in_use: dict[str, int] = dict.fromkeys(self._limits, 0)

    @classmethod
    def for_job(cls, options: JobOptions) -> SlotPool:
        """The keyed limits a job's options declare."""
        limits = {f"profile:{name}": n for name, n in options.profile_limits.items()}
        limits.update({f"resource:{name}": n for name, n in options.resource_limits.items()})
        return cls(limits)

    def free(self) -> dict[str, int]:
        """Free slots per limited key (unlisted keys are unlimited)."""
        return {key: self._limits[key] - used for key, used in self._in_use.items()}

    def acquire(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key in self._in_use:
                self._in_use[key] += 1

    def release(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key in self._in_use:
                self._in_use[key] -= 1
