"""The pure scheduler: priorities, retry times, keyed slots and scopes."""

from __future__ import annotations

import fnmatch

from hypothesis import given
from hypothesis import strategies as st

from taskfleet.engine.scheduler import (
    Candidate,
    next_wakeup,
    patterns_overlap,
    pick_startable,
    scopes_overlap,
    sort_key,
)


def pick(cands: list[Candidate], **kw: object) -> list[int]:
    args: dict[str, object] = {
        "now": 100.0,
        "free_slots": 10,
        "slot_free": {},
        "running_scopes": [],
    }
    args.update(kw)
    ordered = sorted(cands, key=sort_key)
    return [c.seq for c in pick_startable(ordered, **args)]  # type: ignore[arg-type]


def test_priority_then_input_order() -> None:
    cands = [Candidate(1, 1), Candidate(2, 3), Candidate(3, 1), Candidate(4, 3)]
    assert pick(cands) == [2, 4, 1, 3]


def test_free_slots_bound_the_picks() -> None:
    assert pick([Candidate(i, 1) for i in range(1, 6)], free_slots=2) == [1, 2]
    assert pick([Candidate(1, 1)], free_slots=0) == []


def test_retry_time_in_future_waits_without_blocking_others() -> None:
    cands = [Candidate(1, 3, not_before=150.0), Candidate(2, 1)]
    assert pick(cands) == [2]
    assert pick(cands, now=150.0) == [1, 2]
    assert next_wakeup(cands, 100.0) == 150.0
    assert next_wakeup(cands, 150.0) is None


def test_keyed_slot_limits() -> None:
    cands = [Candidate(i, 1, slot_keys=("profile:builder",)) for i in range(1, 5)]
    cands.append(Candidate(5, 1, slot_keys=("resource:gpu",)))
    free = {"profile:builder": 2, "resource:gpu": 0}
    assert pick(cands, slot_free=free) == [1, 2]


def test_unlisted_keys_are_unlimited() -> None:
    cands = [Candidate(i, 1, slot_keys=("resource:x",)) for i in range(1, 4)]
    assert pick(cands) == [1, 2, 3]


def test_overlapping_scopes_never_start_together() -> None:
    cands = [
        Candidate(1, 1, scope=("src/auth/*.py",)),
        Candidate(2, 1, scope=("src/auth/login.py",)),
        Candidate(3, 1, scope=("docs/**",)),
    ]
    assert pick(cands) == [1, 3]
    assert pick(cands, running_scopes=[("docs",)]) == [1]


def test_pattern_overlap_examples() -> None:
    assert patterns_overlap("src/auth", "src/auth/login.py")
    assert patterns_overlap("src/**/*.py", "src/a/b/c.py")
    assert patterns_overlap("src/*.py", "src/a*.py")
    assert not patterns_overlap("src/a.py", "src/b.py")
    assert not patterns_overlap("src/*.py", "src/*.md")
    assert not patterns_overlap("docs/**", "src/**")
    assert scopes_overlap(["a", "b"], ["c", "b/x"])
    assert not scopes_overlap([], ["a"])


SEGMENT = st.sampled_from(["a", "b", "ab", "x.py", "y.md", "*", "*.py", "a*", "?", "[ab]", "**"])
NAME = st.sampled_from(["a", "b", "ab", "x.py", "y.md", "abc.py"])


def covers(pattern: str, path: str) -> bool:
    """Reference semantics: a pattern covers what it matches and everything below."""
    p_parts = [s for s in pattern.split("/") if s]
    return _covers(tuple(p_parts), tuple(path.split("/")))


def _covers(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if not pattern:
        return True
    if pattern[0] == "**":
        return any(_covers(pattern[1:], path[i:]) for i in range(len(path) + 1))
    if not path:
        return False
    return fnmatch.fnmatchcase(path[0], pattern[0]) and _covers(pattern[1:], path[1:])


@given(
    st.lists(SEGMENT, min_size=1, max_size=4),
    st.lists(SEGMENT, min_size=1, max_size=4),
    st.lists(NAME, min_size=1, max_size=5),
)
def test_overlap_is_sound(a: list[str], b: list[str], path: list[str]) -> None:
    """If some path is covered by both patterns, they must be said to overlap."""
    first, second, target = "/".join(a), "/".join(b), "/".join(path)
    if covers(first, target) and covers(second, target):
        assert patterns_overlap(first, second)
        assert patterns_overlap(second, first)


CANDIDATE = st.builds(
    Candidate,
    seq=st.integers(1, 10_000),
    priority=st.integers(0, 3),
    scope=st.lists(st.sampled_from(["a", "a/x", "b", "b/*", "c/**"]), max_size=2).map(tuple),
    slot_keys=st.lists(st.sampled_from(["k1", "k2"]), max_size=2, unique=True).map(tuple),
    not_before=st.one_of(st.none(), st.floats(90, 110)),
)


@given(
    st.lists(CANDIDATE, max_size=30, unique_by=lambda c: c.seq),
    st.integers(0, 8),
    st.integers(0, 3),
    st.integers(0, 3),
)
def test_picks_respect_every_limit(cands: list[Candidate], free: int, k1: int, k2: int) -> None:
    ordered = sorted(cands, key=sort_key)
    picked = pick_startable(
        ordered, now=100.0, free_slots=free, slot_free={"k1": k1, "k2": k2}, running_scopes=[]
    )
    assert len(picked) <= free
    assert all(c.not_before is None or c.not_before <= 100.0 for c in picked)
    assert sum("k1" in c.slot_keys for c in picked) <= k1
    assert sum("k2" in c.slot_keys for c in picked) <= k2
    for i, one in enumerate(picked):
        for other in picked[i + 1 :]:
            assert not (one.scope and other.scope and scopes_overlap(one.scope, other.scope))
    # Start order follows priority, then input order.
    assert picked == sorted(picked, key=sort_key)


@given(st.lists(CANDIDATE, max_size=30, unique_by=lambda c: c.seq), st.integers(1, 8))
def test_work_conserving(cands: list[Candidate], free: int) -> None:
    """A startable candidate is left out only when the free slots are used up."""
    ordered = sorted(cands, key=sort_key)
    picked = pick_startable(ordered, now=100.0, free_slots=free, slot_free={}, running_scopes=[])
    if len(picked) < free:
        chosen = {c.seq for c in picked}
        for cand in ordered:
            if cand.seq in chosen or (cand.not_before is not None and cand.not_before > 100.0):
                continue
            assert cand.scope and any(
                p.scope and scopes_overlap(cand.scope, p.scope) for p in picked
            )
