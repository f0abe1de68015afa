"""Which waiting tasks may start now: priority, retry times, scopes and slots.

Pure and synchronous: no clock (``now`` is passed in), no I/O, so it is
tested exhaustively (tests/unit/engine/test_scheduler*.py). Dependencies are
not decided here: the store only hands out tasks whose dependencies succeeded.

A scope is a list of glob patterns naming the files a task may change. A
pattern covers what it matches and everything below it (``src/auth`` covers
``src/auth/login.py``). Two tasks whose scopes could cover a common path never
run at the same time. The overlap test may say "overlap" for two patterns that
share no path (it then only serialises two tasks), never the other way round.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple

_WILDCARDS = "*?["


class Candidate(NamedTuple):
    """A task that waits to start, as the scheduler sees it."""

    seq: int  # the task's seq: input order, the tie-breaker
    priority: int  # higher first
    scope: tuple[str, ...] = ()
    slot_keys: tuple[str, ...] = ()  # e.g. "profile:builder", "resource:gpu"
    not_before: float | None = None  # retry time


def sort_key(candidate: Candidate) -> tuple[int, int]:
    """Highest priority first, then input order."""
    return (-candidate.priority, candidate.seq)


def pick_startable(
    candidates: Iterable[Candidate],
    *,
    now: float,
    free_slots: int,
    slot_free: Mapping[str, int],
    running_scopes: Sequence[tuple[str, ...]],
) -> list[Candidate]:
    """The candidates to start now, in start order.

    ``candidates`` must come in start order (``sort_key``); the runner keeps
    its window sorted so that a round costs only the candidates it looks at.
    ``free_slots`` is the job's free global concurrency; ``slot_free`` the free
    count of each keyed limit (a key absent from it is unlimited);
    ``running_scopes`` the scopes of the tasks running now. A candidate that
    cannot start (retry time not reached, a keyed slot full, scope overlap)
    does not block lower-priority ones behind it.
    """
    picked: list[Candidate] = []
    if free_slots <= 0:
        return picked
    remaining = dict(slot_free)
    busy_scopes = [scope for scope in running_scopes if scope]
    for candidate in candidates:
        if candidate.not_before is not None and candidate.not_before > now:
            continue
        if candidate.slot_keys and any(remaining.get(k, 1) <= 0 for k in candidate.slot_keys):
            continue
        if candidate.scope and any(scopes_overlap(candidate.scope, s) for s in busy_scopes):
            continue
        picked.append(candidate)
        for key in candidate.slot_keys:
            if key in remaining:
                remaining[key] -= 1
        if candidate.scope:
            busy_scopes.append(candidate.scope)
        if len(picked) >= free_slots:
            break
    return picked


def next_wakeup(candidates: Iterable[Candidate], now: float) -> float | None:
    """The earliest future retry time among the candidates, or None."""
    times = [c.not_before for c in candidates if c.not_before is not None and c.not_before > now]
    return min(times) if times else None


def scopes_overlap(first: Sequence[str], second: Sequence[str]) -> bool:
    """Whether any pattern of one scope may cover a path that the other covers."""
    return any(patterns_overlap(a, b) for a in first for b in second)


def patterns_overlap(first: str, second: str) -> bool:
    """Whether two scope patterns may cover a common path."""
    return _segments_overlap(_segments(first), _segments(second))


def _segments(pattern: str) -> tuple[str, ...]:
    parts = pattern.replace("\\", "/").split("/")
    return tuple(part for part in parts if part not in ("", "."))


@lru_cache(maxsize=4096)
def _segments_overlap(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    # A pattern that runs out covers everything below what it matched.
    if not first or not second:
        return True
    head_a, head_b = first[0], second[0]
    if head_a == "**":
        return _segments_overlap(first[1:], second) or _segments_overlap(first, second[1:])
    if head_b == "**":
        return _segments_overlap(first, second[1:]) or _segments_overlap(first[1:], second)
    return _segment_overlap(head_a, head_b) and _segments_overlap(first[1:], second[1:])


def _segment_overlap(first: str, second: str) -> bool:
    """Whether two single-segment globs may match a common name."""
    first_wild = any(ch in first for ch in _WILDCARDS)
    second_wild = any(ch in second for ch in _WILDCARDS)
    if not first_wild:
        return fnmatch.fnmatchcase(first, second) if second_wild else first == second
    if not second_wild:
        return fnmatch.fnmatchcase(second, first)
    # Both are globs: a common match starts with both literal prefixes and ends
    # with both literal suffixes, so each pair must be prefix/suffix-compatible.
    prefix_a, prefix_b = _literal_prefix(first), _literal_prefix(second)
    suffix_a, suffix_b = _literal_prefix(first[::-1]), _literal_prefix(second[::-1])
    prefixes_ok = prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
    suffixes_ok = suffix_a.startswith(suffix_b) or suffix_b.startswith(suffix_a)
    return prefixes_ok and suffixes_ok


def _literal_prefix(pattern: str) -> str:
    for index, ch in enumerate(pattern):
        if ch in _WILDCARDS or ch == "]":
            return pattern[:index]
    return pattern
